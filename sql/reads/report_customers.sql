-- Every segmented customer of a snapshot with the features a model can use: the projection's
-- points (one row per customer). The features placeholder lists settings.ALL_FEATURES.
select
    customer_id,
    segment_id,
    {features}
from segments.customer_segments
where as_of_date = %(as_of_date)s
order by customer_id
