-- The product days' key again, after a rebuild of most days wrote them without it
-- (int_customer_product_days__drop_primary_key.sql): one sort, and the check that each customer's
-- product is counted once per day.
alter table intermediate.int_customer_product_days
    add constraint int_customer_product_days_pkey primary key (invoice_day, customer_id, stock_code)
