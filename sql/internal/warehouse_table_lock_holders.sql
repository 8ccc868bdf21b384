-- The other sessions holding locks on the warehouse's tables and views, longest in their
-- transaction first: whom a setup that timed out waiting for its locks waited for.
select
    activity.pid,
    activity.usename                                                    as user_name,
    activity.application_name,
    activity.state,
    date_trunc('second', now() - activity.xact_start)                   as in_transaction_for,
    string_agg(distinct relations.relname, ', ' order by relations.relname) as relation_names
from pg_locks as locks
join pg_class as relations on relations.oid = locks.relation
join pg_stat_activity as activity on activity.pid = locks.pid
where locks.granted
  and locks.pid <> pg_backend_pid()
  and locks.database = (select oid from pg_database where datname = current_database())
  and relations.relnamespace::regnamespace::text in ('raw', 'staging', 'intermediate', 'internal', 'segments')
group by activity.pid, activity.usename, activity.application_name, activity.state, activity.xact_start
order by in_transaction_for desc nulls last
