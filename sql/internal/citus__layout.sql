-- The tables of a Citus warehouse that do not have their kind yet, in the order to convert them.
-- Per-customer tables are sharded by customer_id, co-located with int_customer_daily so that joins
-- on customer_id stay on one worker. The model tables (small, read with every customer) are
-- replicated to every node; segment_models first, since the others refer to it. Everything else,
-- the line-level tables above all, stays on the coordinator: guest lines have no customer, and
-- Citus refuses a NULL distribution value.
with layout (position, table_name, kind) as (
    values
        (1, 'internal.segment_models', 'reference'),
        (2, 'internal.segment_centroids', 'reference'),
        (3, 'internal.segment_definitions', 'reference'),
        (4, 'intermediate.int_customer_daily', 'distributed'),
        (5, 'intermediate.int_customer_product_days', 'distributed'),
        (6, 'intermediate.int_customer_new_products_daily', 'distributed'),
        (7, 'intermediate.int_customer_country_daily', 'distributed'),
        (8, 'intermediate.int_customer_features', 'distributed'),
        (9, 'internal.customer_assignments', 'distributed'),
        (10, 'segments.customer_segments', 'distributed')
)
select layout.table_name, layout.kind
from layout
where not exists (
    select from citus_tables
    where citus_tables.table_name = layout.table_name::regclass and citus_tables.citus_table_type = layout.kind
)
order by layout.position
