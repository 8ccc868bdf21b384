-- Customers whose first purchase of some product may have moved: those with a first purchase on a
-- rebuilt day before the rebuild, or a purchase on one after it. Only their counts from the
-- window's first day on can change: a first purchase before the window stays where it is.
create temp table if not exists int_customers_with_changed_products (
    customer_id text primary key
) on commit drop;

truncate pg_temp.int_customers_with_changed_products;

insert into pg_temp.int_customers_with_changed_products (customer_id)
select customer_id
from intermediate.int_customer_new_products_daily
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
union
select customer_id
from intermediate.int_customer_product_days
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s;

analyze pg_temp.int_customers_with_changed_products;

delete from intermediate.int_customer_new_products_daily
where invoice_day >= %(window_start)s
  and customer_id in (select customer_id from pg_temp.int_customers_with_changed_products)
