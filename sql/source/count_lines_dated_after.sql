-- Source lines dated after a moment (the run's own time): clock errors or test data, never sales.
select count(*) as lines
from {source_table}
where invoice_date > %(moment)s
