-- make bench --earlier-snapshots: one published run's rows of {table} copied as those of
-- `snapshots` earlier published snapshots, the n-th dated n + 1 days before the run's (the day
-- before it holds the bench's full run) and named after the run and n: the warehouse as after
-- that many more nights. {copied_columns} are the table's columns with those three changed.
insert into {table} ({columns})
select {copied_columns}
from {table}, generate_series(1, %(snapshots)s) as earlier
where {run_column} = %(run)s
