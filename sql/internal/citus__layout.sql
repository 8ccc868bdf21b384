-- The tables of a Citus warehouse that do not have their kind yet, in the order to convert them.
-- Rows are sharded by customer: per-customer tables by customer_id, the extracted lines by
-- customer_key (the normalised customer id, '' for guest lines: Citus refuses a NULL shard key),
-- all co-located with int_customer_daily, so that a customer's lines and rows share a worker and
-- duplicate lines are found on each shard. The model tables (small, read with every customer) are
-- replicated to every node; segment_models first, since the others refer to it. Everything else
-- (runs, ledgers, day bookkeeping: one row per run or day) stays on the coordinator.
with layout (position, table_name, kind, distribution_column) as (
    values
        (1, 'internal.segment_models', 'reference', null),
        (2, 'internal.segment_centroids', 'reference', null),
        (3, 'internal.segment_definitions', 'reference', null),
        (4, 'intermediate.int_customer_daily', 'distributed', 'customer_id'),
        (5, 'raw.invoice_lines', 'distributed', 'customer_key'),
        (6, 'intermediate.int_customer_product_days', 'distributed', 'customer_id'),
        (7, 'intermediate.int_customer_new_products_daily', 'distributed', 'customer_id'),
        (8, 'intermediate.int_customer_country_daily', 'distributed', 'customer_id'),
        (9, 'intermediate.int_customer_features', 'distributed', 'customer_id'),
        (10, 'internal.customer_assignments', 'distributed', 'customer_id'),
        (11, 'segments.customer_segments', 'distributed', 'customer_id'),
        (12, 'intermediate.int_customer_totals', 'distributed', 'customer_id')
)
select layout.table_name, layout.kind, layout.distribution_column
from layout
where not exists (
    select from citus_tables
    where citus_tables.table_name = layout.table_name::regclass and citus_tables.citus_table_type = layout.kind
)
order by layout.position
