-- Fingerprint the days just copied (same expression as source/day_fingerprints_before.sql), so
-- that later runs can tell whether the source changed them; and queue for the aggregates each
-- day whose lines differ from those extracted before (gained, lost or changed), or every day of
-- a full refresh. Most days of the look-back are re-read unchanged: they keep their models.
-- Created from the query (not inserted into) so that the server may scan a long window with
-- parallel workers (an INSERT never runs in parallel): a first run's 10M lines in 2 s instead of
-- 4. A window from the beginning of history has no lower bound (no line before it is ever
-- extracted): on a table without statistics yet (a first run), the planner then expects most of
-- the table instead of the few rows it guesses for a range of dates.
drop table if exists pg_temp.extracted_fingerprints;

create temp table extracted_fingerprints on commit drop as
select
    invoice_date::date as invoice_day,
    count(*)           as lines,
    sum(hash_record_extended(row(
        invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country
    ), 0))             as content_hash
from raw.invoice_lines
where invoice_date < %(window_end)s
  and (%(from_beginning_of_history)s or invoice_date >= %(window_start)s)
group by 1;

insert into internal.pending_days (invoice_day)
select invoice_day
from pg_temp.extracted_fingerprints as copied
full join (
    select invoice_day, lines, content_hash
    from internal.extracted_days
    where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
) as before using (invoice_day)
where %(rebuild_all)s
   or copied.lines is distinct from before.lines
   or copied.content_hash is distinct from before.content_hash
on conflict do nothing;

delete from internal.extracted_days
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s;

insert into internal.extracted_days (invoice_day, lines, content_hash, extract_run_id)
select invoice_day, lines, content_hash, %(run_id)s::text
from pg_temp.extracted_fingerprints
