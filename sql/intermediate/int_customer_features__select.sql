-- The segmentable customers of a run's snapshot: the only rows pandas ever sees. Which of them, in
-- which order (features.EVERY_CUSTOMER or features.SEEDED_SAMPLE): every one in customer order,
-- or a seeded random sample of a given size in hash order (for training when there are too many
-- to hold in memory); either is the same on every rerun, so K-Means meets the same rows in the same
-- order. Numerics arrive as floats, the model's type (every feature of settings.ALL_FEATURES, in
-- its order).
select
    customer_id,
    recency_days,
    frequency_invoices,
    monetary_revenue::float8       as monetary_revenue,
    avg_order_revenue::float8      as avg_order_revenue,
    items_per_order::float8        as items_per_order,
    tenure_days,
    return_rate::float8            as return_rate,
    distinct_products
from intermediate.int_customer_features
where run_id = %(run_id)s and is_clusterable
{rows}
