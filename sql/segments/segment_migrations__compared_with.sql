-- Snapshots whose migrations compare against a given one (after it is withdrawn, they must be
-- recomputed), each with the latest snapshot still published before it (null when none is).
select distinct
    migrations.as_of_date,
    (
        select max(runs.as_of_date)
        from segments.segmentation_runs as runs
        where runs.as_of_date < migrations.as_of_date
    ) as previous_as_of_date
from segments.segment_migrations as migrations
where migrations.previous_as_of_date = %(compared_with)s
order by migrations.as_of_date
