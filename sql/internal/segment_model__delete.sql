-- Forget a run's stored model (its centroids and definitions go with it, by their foreign keys),
-- then its assignments and those of the abandoned runs (internal/abandoned_runs.sql; their models,
-- a few rows each, stay as the record of what they fitted). In this order on Citus too: there a
-- transaction cannot change a reference table (the model's) after a statement ran on the shards
-- of a distributed one.
delete from internal.segment_models where run_id = %(run_id)s;
delete from internal.customer_assignments where run_id = any (%(run_ids)s)
