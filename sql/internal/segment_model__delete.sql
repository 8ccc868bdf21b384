-- Forget a run's stored model (its centroids and assignments go with it).
delete from internal.segment_models where run_id = %(run_id)s
