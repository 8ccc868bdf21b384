-- Whether a customer bought a product before a given day, asked for every product of a changed
-- day. Set up with the tables, and built again after a rebuild of most days, which writes the
-- product days without it (int_customer_product_days__drop_pair_index.sql).
create index if not exists int_customer_product_days_pair_idx
    on intermediate.int_customer_product_days (customer_id, stock_code, invoice_day)
