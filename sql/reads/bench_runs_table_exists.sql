-- Whether the warehouse has its runs table yet (a backfill's first run creates it).
select to_regclass('segments.segmentation_runs') is not null as runs_table_exists
