-- Every segmented customer of a snapshot with the features a model can use: the projection's
-- points (one row per customer).
select
    customer_id,
    segment_id,
    recency_days,
    frequency_invoices,
    monetary_revenue,
    avg_order_revenue,
    items_per_order,
    tenure_days,
    return_rate,
    distinct_products
from segments.customer_segments
where as_of_date = %(as_of_date)s
order by customer_id
