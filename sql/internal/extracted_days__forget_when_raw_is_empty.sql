-- raw.invoice_lines is unlogged: a server crash empties it, while the fingerprints of the days it
-- held (logged) survive. Forget them then, so that this run finds no high-water mark and
-- re-extracts all history, as a first run does, instead of rebuilding days from no lines.
-- "select 1 ... limit 1", a no-op for PostgreSQL, for Citus: it runs the subquery on the shards
-- apart and gathers its whole result on the coordinator first (every line of history, 14 s at 10M
-- lines, without the limit), and refuses a result with no columns.
delete from internal.extracted_days
where not exists (select 1 from raw.invoice_lines limit 1)
