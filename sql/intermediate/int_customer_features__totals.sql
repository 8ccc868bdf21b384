-- Customers and net revenue a run would publish: its segmentable customers.
select count(*)::integer as customers, coalesce(sum(monetary_revenue), 0)::float8 as revenue
from intermediate.int_customer_features
where run_id = %(run_id)s and is_clusterable
