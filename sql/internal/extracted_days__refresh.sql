-- Fingerprint the days just copied (same expression as source/day_fingerprints_before.sql), so
-- that later runs can tell whether the source changed them.
delete from internal.extracted_days
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s;

insert into internal.extracted_days (invoice_day, lines, content_hash, extract_run_id)
select
    invoice_date::date,
    count(*),
    sum(hash_record_extended(row(
        invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country
    ), 0)),
    %(run_id)s::text
from raw.invoice_lines
where invoice_date >= %(window_start)s and invoice_date < %(window_end)s
group by 1
