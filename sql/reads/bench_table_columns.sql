-- A table's columns, in order: make bench --earlier-snapshots copies a run's rows of the table
-- whatever its columns are (internal/bench_earlier_snapshots__insert.sql).
select attname as column_name
from pg_attribute
where attrelid = %(table)s::regclass and attnum > 0 and not attisdropped
order by attnum
