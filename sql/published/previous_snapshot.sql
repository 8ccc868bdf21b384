-- The latest published snapshot strictly before a date, and the run that published it.
select as_of_date, run_id
from segments.segmentation_runs
where as_of_date < %(as_of_date)s
order by as_of_date desc
limit 1
