-- Record how a stage of a run ended (success, failure or refusal), with its details.
insert into internal.run_attempts (run_id, as_of_date, stage, status, detail, recorded_at)
values (%(run_id)s, %(as_of_date)s, %(stage)s, %(status)s, %(detail)s, now())
on conflict (run_id, stage) do update set
    status = excluded.status,
    detail = excluded.detail,
    recorded_at = excluded.recorded_at
