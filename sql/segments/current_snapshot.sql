-- The snapshot analysts see as current, and the run that published it.
select as_of_date, run_id, published_at, customers_segmented
from segments.segmentation_runs
where as_of_date = (select as_of_date from internal.current_as_of_date)
