-- The segmentable customers of a run's snapshot: the only rows pandas ever sees. With a sample size,
-- a seeded random sample of that many (for training when there are too many to hold in memory);
-- without one (null), all of them. The hash order makes both the same on every rerun. Numerics
-- arrive as floats, the model's type (every feature of settings.ALL_FEATURES, in its order).
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
order by md5(customer_id || ':' || %(seed)s::text), customer_id
limit %(sample_size)s
