-- Customers of a run's snapshot: segmented, and left out for having no net purchase.
select
    count(*) filter (where is_clusterable)        as customers_segmented,
    count(*) filter (where not is_clusterable)    as customers_excluded
from intermediate.int_customer_features
where run_id = %(run_id)s
