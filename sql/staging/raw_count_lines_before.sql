-- Extracted lines dated before a day: must equal the source's count, or history changed.
select count(*) as lines
from raw.invoice_lines
where invoice_date < %(window_start)s
