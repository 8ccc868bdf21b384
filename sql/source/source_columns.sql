-- The columns a table has: the source table's, to check the extract contract before reading it;
-- a warehouse table's, for make bench to copy its rows whatever they are (bench/snapshots.py).
select column_name
from information_schema.columns
where table_schema = %(schema_name)s and table_name = %(table_name)s
