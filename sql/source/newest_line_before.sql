-- The newest source line dated before the snapshot date; none means there is nothing to segment.
select max(invoice_date) as newest_invoice_date
from {source_table}
where invoice_date < %(window_end)s
