-- Move a registered worker to the port it listens on now (SEGMENTS_CITUS_PORT, or its default,
-- changed since it was registered): it keeps its node id and the shards placed on it.
select citus_update_node(nodeid, %(host)s, %(port)s)
from pg_dist_node
where nodename = %(old_host)s and nodeport = %(old_port)s
