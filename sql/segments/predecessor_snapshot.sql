-- The predecessor of a snapshot: the latest one published before it, at most the configured gap
-- earlier (none beyond: a fresh start), and the run that published it.
select as_of_date, run_id
from segments.segmentation_runs
where as_of_date < %(as_of_date)s and as_of_date >= %(earliest_as_of_date)s
order by as_of_date desc
limit 1
