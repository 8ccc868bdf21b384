-- Which products each customer bought on each day of the re-read window.
insert into intermediate.int_customer_product_days (customer_id, stock_code, invoice_day)
select distinct customer_id, stock_code, invoice_day
from intermediate.int_invoice_lines_classified
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
  and line_class = 'purchase'
