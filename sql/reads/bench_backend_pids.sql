-- The PostgreSQL backends serving a client (found by its application_name) and their parallel workers.
select pid
from pg_stat_activity
where application_name = %(application_name)s
   or leader_pid in (select pid from pg_stat_activity where application_name = %(application_name)s)
