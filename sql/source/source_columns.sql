-- The columns the source table has, to check the extract contract before reading it.
select column_name
from information_schema.columns
where table_schema = %(schema_name)s and table_name = %(table_name)s
