-- Forget this run's features before rebuilding them, and those of runs that never published and
-- stopped long ago (a killed run leaves its rows behind; no live run is that old). Those runs are
-- found in the run ledger, a few rows per run, so that the delete reads their rows alone, through
-- the key: a condition on the feature rows themselves read the features of every published
-- snapshot, every night (a nightly run's features stage took 2.4 s longer after 180 published
-- nights of 80,000 customers, and more with each night).
delete from intermediate.int_customer_features
where run_id = any (array(
    select %(run_id)s::text
    union all
    (
        select run_id
        from internal.run_attempts
        group by run_id
        having max(recorded_at) < now() - interval '2 days'
        except
        select run_id
        from segments.segmentation_runs
    )
))
