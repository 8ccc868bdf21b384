-- raw.invoice_lines is unlogged: a server crash empties it, while the fingerprints of the days it
-- held (logged) survive. Forget them then, so that this run finds no high-water mark and
-- re-extracts all history, as a first run does, instead of rebuilding days from no lines.
-- "select 1", not an empty select list: Citus plans the subquery over the shards apart, and
-- refuses a result with no columns.
delete from internal.extracted_days
where not exists (select 1 from raw.invoice_lines)
