-- Forget the per-customer country counts of the re-read window.
delete from intermediate.int_customer_country_daily
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
