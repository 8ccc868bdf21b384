-- A snapshot's segment profiles, for people to read.
select
    segment_id,
    segment_name,
    customers,
    customer_share,
    revenue,
    revenue_share,
    median_recency_days,
    median_frequency_invoices,
    median_monetary_revenue,
    mean_monetary_revenue,
    mean_avg_order_revenue,
    mean_items_per_order
from segments.segment_profiles
where as_of_date = %(as_of_date)s
order by segment_id
