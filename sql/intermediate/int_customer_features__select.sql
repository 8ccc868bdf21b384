-- The segmentable customers of a run's snapshot: the only rows pandas ever sees. With a sample size,
-- a seeded random sample of that many (for training when there are too many to hold in memory);
-- without one (null), all of them. The hash order makes both the same on every rerun.
-- The features placeholder lists every feature, in settings.ALL_FEATURES order.
select
    customer_id,
    {features}
from intermediate.int_customer_features
where run_id = %(run_id)s and is_clusterable
order by md5(customer_id || ':' || %(seed)s::text), customer_id
limit %(sample_size)s
