-- Every published snapshot, newest first: what a reader can pick a report for.
select
    as_of_date,
    run_id,
    k,
    customers_segmented,
    published_at
from segments.segmentation_runs
order by as_of_date desc
