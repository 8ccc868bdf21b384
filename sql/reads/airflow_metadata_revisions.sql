-- The migration revisions Airflow's metadata database is at (the table appears with the first migration).
select version_num from alembic_version
