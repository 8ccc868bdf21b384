-- Forget this run's features before rebuilding them, and those of the abandoned runs
-- (internal/abandoned_runs.sql), through the key.
delete from intermediate.int_customer_features
where run_id = any (%(run_ids)s)
