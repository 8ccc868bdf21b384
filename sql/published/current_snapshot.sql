-- The snapshot analysts see as current, and the run that published it.
select as_of_date, run_id, published_at, customers_segmented
from segments.segmentation_runs
order by as_of_date desc
limit 1
