-- Before a rebuild of most days, with the pair index (int_customer_product_days__drop_pair_index.sql):
-- one sort builds the key again afterwards (int_customer_product_days__primary_key.sql), where
-- inserting each product day walks its B-tree (the bench's 10M-line first run's 7.2 million
-- product days: 12.4 s inserted with the key, 6.6 s without it and 1.6 s to add it).
alter table intermediate.int_customer_product_days drop constraint if exists int_customer_product_days_pkey
