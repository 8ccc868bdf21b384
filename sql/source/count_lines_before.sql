-- Source lines dated before a day: reconciled against the warehouse before an incremental extract.
select count(*) as lines
from {source_table}
where invoice_date < %(window_start)s
