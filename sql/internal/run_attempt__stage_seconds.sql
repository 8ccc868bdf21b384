-- Seconds each successful stage of a run took.
select coalesce(jsonb_object_agg(stage, (detail ->> 'seconds')::float8), '{}'::jsonb) as stage_seconds
from internal.run_attempts
where run_id = %(run_id)s and status = 'success' and detail ? 'seconds'
