"""The nightly run's stages after many published snapshots (`--earlier-snapshots N`,
SNAPSHOTS=N in make bench): a night's cost should not grow with the nights before it.

The same date is run again before and after N earlier published snapshots are added, so that
both runs do the same work on tables that differ only in the snapshots they keep: copies of the
first rerun's rows, each dated a day earlier, in every table that keeps a row per run or snapshot.
"""

from __future__ import annotations

import datetime as dt
import time

from psycopg import sql

from segments import db, queries

# The tables that keep rows of every run or published snapshot, with the column naming the run's rows.
PER_SNAPSHOT_TABLES = (
    ("intermediate.int_customer_features", "run_id"),
    ("internal.customer_assignments", "run_id"),
    ("internal.run_attempts", "run_id"),
    ("segments.segmentation_runs", "as_of_date"),
    ("segments.customer_segments", "as_of_date"),
    ("segments.segment_profiles", "as_of_date"),
    ("segments.segment_definitions", "as_of_date"),
    ("segments.line_accounting", "as_of_date"),
)
# What each copy changes (`earlier` is its number, from 1): its run, its date, and when its
# stages were recorded, so that it looks as old as its date.
COPIED = {
    "run_id": sql.SQL("run_id || '__earlier_' || earlier"),
    "as_of_date": sql.SQL("as_of_date - 1 - earlier"),
    "recorded_at": sql.SQL("recorded_at - make_interval(days => 1 + earlier)"),
}


def add_earlier_snapshots(warehouse_url: str, run_id: str, as_of: dt.date, snapshots: int) -> dict:
    """Copy the rows of `run_id`, published for `as_of`, as `snapshots` earlier published snapshots."""
    started = time.perf_counter()
    rows = {}
    with db.connect_url(warehouse_url) as warehouse:
        for table, run_column in PER_SNAPSHOT_TABLES:
            schema_name, table_name = table.split(".")
            columns = tuple(row["column_name"] for row in queries.fetch_all(
                warehouse, "source/source_columns.sql", {"schema_name": schema_name, "table_name": table_name}))
            copied = sql.SQL(", ").join(COPIED.get(column, sql.Identifier(column)) for column in columns)
            rows[table] = queries.execute(
                warehouse, "internal/bench_earlier_snapshots__insert.sql",
                {"snapshots": snapshots, "run": run_id if run_column == "run_id" else as_of},
                {"table": table, "columns": columns, "copied_columns": copied, "run_column": sql.Identifier(run_column)})
        warehouse.commit()
    return {"snapshots": snapshots, "rows_added": rows, "seconds": round(time.perf_counter() - started, 3)}
