-- Every line of the source, to tell after a load how many it holds.
select count(*) as lines
from retail.invoice_lines
