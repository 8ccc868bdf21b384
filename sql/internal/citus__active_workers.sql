-- The workers the coordinator places shards on.
select node_name, node_port
from citus_get_active_worker_nodes()
order by node_port
