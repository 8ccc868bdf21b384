-- Who holds the warehouse write lock now: the session's name (run and stage) and for how long.
select activity.application_name as holder, activity.pid, now() - activity.xact_start as held_for
from pg_locks as locks
join pg_stat_activity as activity using (pid)
where locks.locktype = 'advisory' and locks.granted
  and locks.objid = hashtext('segments.warehouse_writes')::oid
  and locks.database = (select oid from pg_database where datname = current_database())
