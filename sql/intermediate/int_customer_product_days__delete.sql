-- Forget which products customers bought on the days of the re-read window.
delete from intermediate.int_customer_product_days
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
