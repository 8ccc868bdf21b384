-- The notebook's first cell, which the bench measures: the whole invoice table into pandas.
select * from retail.invoice_lines
