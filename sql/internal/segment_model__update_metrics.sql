-- Replace a stored model's metrics once its assignments are complete.
update internal.segment_models set metrics = %(metrics)s where run_id = %(run_id)s
