-- When each snapshot of a range of dates was published, in order.
select published_at
from segments.segmentation_runs
where as_of_date between %(first_date)s and %(last_date)s
order by published_at
