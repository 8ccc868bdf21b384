-- Per customer and day from the window's first day on, for the customers whose first purchases
-- may have moved (int_customer_new_products_daily__delete.sql): the products bought that day and
-- on no earlier day.
insert into intermediate.int_customer_new_products_daily (customer_id, invoice_day, new_products)
select
    product_days.customer_id,
    product_days.invoice_day,
    count(*) as new_products
from intermediate.int_customer_product_days as product_days
where product_days.invoice_day >= %(window_start)s
  and product_days.customer_id in (select customer_id from pg_temp.int_customers_with_changed_products)
  and not exists (
      select
      from intermediate.int_customer_product_days as earlier
      where earlier.customer_id = product_days.customer_id
        and earlier.stock_code = product_days.stock_code
        and earlier.invoice_day < product_days.invoice_day
  )
group by product_days.customer_id, product_days.invoice_day
