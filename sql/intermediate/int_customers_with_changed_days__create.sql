-- Customers with a row of int_customer_daily on a rebuilt day, before or after its rebuild: the
-- only ones whose totals of all history (int_customer_totals) can change. The daily model's
-- delete and insert add them, range by range; dropped with the transaction.
create temp table if not exists int_customers_with_changed_days (
    customer_id text not null
) on commit drop;

truncate pg_temp.int_customers_with_changed_days
