-- Segment sizes of a run's assignments (the quality gate's minimum share reads them).
select segment_id, count(*) as customers
from internal.customer_assignments
where run_id = %(run_id)s
group by segment_id
order by segment_id
