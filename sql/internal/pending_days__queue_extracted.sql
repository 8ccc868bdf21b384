-- Queue the extracted days of a range for the aggregates stage: run before a range is replaced
-- (days that may lose all their lines) and after (days that gained lines).
insert into internal.pending_days (invoice_day)
select invoice_day
from internal.extracted_days
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
on conflict do nothing
