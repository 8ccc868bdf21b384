-- Forget this run's features before rebuilding them, and those of runs that never published
-- and stopped long ago (a killed run leaves its rows behind; no live run is that old).
delete from intermediate.int_customer_features
where run_id = %(run_id)s
   or (computed_at < now() - interval '2 days'
       and run_id not in (select run_id from segments.segmentation_runs))
