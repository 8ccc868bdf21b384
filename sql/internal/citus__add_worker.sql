-- Register a worker with the coordinator (a worker registered before keeps its node id).
select citus_add_node(%(host)s, %(port)s)
