-- How each segment's size and revenue share moved over the last 30 days of snapshots.
select as_of_date, segment_name, customers, customer_share, revenue, revenue_share
from segments.segment_sizes_over_time
where as_of_date > (select max(as_of_date) - 30 from segments.segmentation_runs)
order by segment_name, as_of_date
