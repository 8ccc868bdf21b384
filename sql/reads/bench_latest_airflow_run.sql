-- The latest run of a snapshot date that the bench did not start itself (its own run ids begin
-- with "bench__"): the run Airflow's dag.test() just recorded.
select run_id
from internal.run_attempts
where as_of_date = %(as_of_date)s and run_id not like 'bench\_\_%%'
order by recorded_at desc
limit 1
