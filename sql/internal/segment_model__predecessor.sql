-- The snapshot a run's model continued (null after a fresh start).
select (metrics ->> 'predecessor_as_of_date')::date as predecessor_as_of_date
from internal.segment_models
where run_id = %(run_id)s
