-- What one segment of a stored model means (pipeline/definitions.py).
insert into internal.segment_definitions (run_id, segment_id, value_rank, description, recommended_action)
values (%(run_id)s, %(segment_id)s, %(value_rank)s, %(description)s, %(recommended_action)s)
