-- The latest runs with how each stage ended, newest first: what `segments status` shows.
with attempts as (

    select
        run_id,
        as_of_date,
        max(recorded_at)                                                          as last_update,
        bool_or(status = 'failed' or status = 'refused')                          as failed,
        string_agg(stage || ' ' || status, ', ' order by recorded_at)             as stages,
        sum((detail ->> 'seconds')::float8)                                       as seconds,
        max(coalesce(detail ->> 'error', detail ->> 'reason'))                    as problem
    from internal.run_attempts
    group by run_id, as_of_date

)

select
    attempts.*,
    runs.run_id is not null as is_published
from attempts
left join segments.segmentation_runs as runs using (run_id, as_of_date)
order by last_update desc
limit %(limit)s
