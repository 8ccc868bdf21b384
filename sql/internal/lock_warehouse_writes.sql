-- Serialise the runs that rewrite the shared incremental tables (held until the transaction
-- ends). The holder names itself, so that a run kept waiting can say who it waits for, and the
-- wait is bounded.
select set_config('application_name', %(holder)s, true);
select set_config('lock_timeout', %(lock_timeout)s, true);
select pg_advisory_xact_lock(hashtext('segments.warehouse_writes'))
