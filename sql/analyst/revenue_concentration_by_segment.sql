-- Revenue concentration over time: each segment's share of revenue and of customers per
-- snapshot, with the cumulative revenue share from the most valuable segment down.
select
    profiles.as_of_date,
    definitions.value_rank,
    profiles.segment_name,
    profiles.customer_share,
    profiles.revenue_share,
    sum(profiles.revenue_share) over (
        partition by profiles.as_of_date order by definitions.value_rank
    ) as cumulative_revenue_share
from segments.segment_profiles as profiles
join segments.segment_definitions as definitions using (as_of_date, segment_id)
order by profiles.as_of_date, definitions.value_rank
