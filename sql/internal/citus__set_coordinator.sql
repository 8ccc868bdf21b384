-- Where the workers reach the coordinator.
select citus_set_coordinator_host(%(host)s, %(port)s)
