-- raw.invoice_lines is unlogged: a server crash empties it, while the fingerprints of the days it
-- held (logged) survive. Forget them then, so that this run finds no high-water mark and
-- re-extracts all history, as a first run does, instead of rebuilding days from no lines.
delete from internal.extracted_days
where not exists (select from raw.invoice_lines)
