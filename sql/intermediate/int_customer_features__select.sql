-- The segmentable customers of one snapshot: the only rows pandas ever sees.
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
where as_of_date = %(as_of_date)s and is_clusterable
order by customer_id
