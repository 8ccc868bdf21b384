-- How many rows a table's statistics count (-1: never analysed): what its next ANALYZE would
-- correct (warehouse.analyze_when_stale).
select reltuples as planned_rows
from pg_class
where oid = %(table)s::regclass
