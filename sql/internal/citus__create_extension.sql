-- Citus in a cluster node's warehouse database (the node preloads it).
create extension if not exists citus
