-- Forget the per-customer daily aggregates of the re-read window, after noting whose they were
-- (their totals are recomputed after the rebuild).
insert into pg_temp.int_customers_with_changed_days (customer_id)
select customer_id
from intermediate.int_customer_daily
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s;

delete from intermediate.int_customer_daily
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
