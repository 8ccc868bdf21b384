-- Which products each customer bought on each day of the re-read window. Inserted in the primary
-- key's order, so that the index grows at its right edge instead of splitting pages at random.
insert into intermediate.int_customer_product_days (invoice_day, customer_id, stock_code)
select distinct invoice_day, customer_id, stock_code
from pg_temp.int_invoice_lines_classified
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
  and line_class = 'purchase'
order by invoice_day, customer_id, stock_code
