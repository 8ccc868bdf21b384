"""Backfill through the real scheduler: the local Airflow stack (`make airflow`) on the real data,
`airflow backfill create` over consecutive dates, timed until the last date is published.

Used by `make bench BACKFILL_DAYS=N`; the dates publish one after another, as the product
enforces (each continues the snapshot of the day before), so the figure is per date.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from segments import db, queries
from segments.settings import DAG_ID
from segments.tools import airflow_stack, load, local, server

# The real data's last day: its nightly snapshot is the one after it.
LAST_SNAPSHOT = dt.date(2011, 12, 10)
DATABASES = {"source": "bench_backfill_source", "warehouse": "bench_backfill_warehouse",
             "metadata": "bench_backfill_airflow"}
CONNECTION_VARIABLES = {"source": "AIRFLOW_CONN_RETAIL_SOURCE", "warehouse": "AIRFLOW_CONN_SEGMENT_WAREHOUSE"}
# The target for a backfill date through the scheduler, wall clock.
SECONDS_PER_DATE_TARGET = 12.0


def _published(warehouse_url: str, first: dt.date, last: dt.date) -> list[dt.datetime]:
    with db.connect_url(warehouse_url) as conn:
        (table,) = queries.fetch_all(conn, "reads/bench_runs_table_exists.sql")
        if not table["runs_table_exists"]:
            return []
        rows = queries.fetch_all(conn, "reads/bench_published_between.sql", {"first_date": first, "last_date": last})
        return [row["published_at"] for row in rows]


def _airflow(environment: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=environment, capture_output=True, text=True,
                          timeout=300)


def _time_backfill(port: int, first: dt.date, days: int, warehouse_url: str, timeout_seconds: float):
    """Create the backfill on the running stack; seconds until its last date is published, and the publish times."""
    environment = {**os.environ, **airflow_stack.stack_environment(port)}
    deadline = time.monotonic() + 180
    while DAG_ID not in _airflow(environment, "dags", "list", "-o", "json").stdout:
        if time.monotonic() > deadline:
            raise RuntimeError("the dag-processor did not parse the DAG within 3 minutes")
        time.sleep(2)
    started = time.monotonic()
    created = _airflow(environment, "backfill", "create", "--dag-id", DAG_ID,
                       "--from-date", f"{first}T02:00:00", "--to-date", f"{LAST_SNAPSHOT}T02:00:00",
                       "--reprocess-behavior", "completed")
    if created.returncode:
        raise RuntimeError(f"airflow backfill create failed: {created.stderr[-2000:]}")
    while len(published := _published(warehouse_url, first, LAST_SNAPSHOT)) < days:
        if time.monotonic() - started > timeout_seconds:
            raise RuntimeError(f"only {len(published)} of {days} dates published in {timeout_seconds:.0f} s")
        time.sleep(1)
    return time.monotonic() - started, published


def measure_backfill(days: int, data_path: Path, timeout_seconds: float = 3600) -> dict:
    """Backfill the `days` snapshots up to the data's last one; wall time to the last publish."""
    first = LAST_SNAPSHOT - dt.timedelta(days=days - 1)
    urls = {}
    for role, name in DATABASES.items():
        server.drop_database(name)
        server.create_database(name)
        urls[role] = server.url(name)
    with db.connect_url(urls["source"]) as source:
        loaded = load.load_file(source, data_path)
    stack_databases = {
        "AIRFLOW_HOME": tempfile.mkdtemp(prefix="bench-backfill-airflow-"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.url(DATABASES["metadata"], "postgresql+psycopg"),
        **{variable: urls[role] for role, variable in CONNECTION_VARIABLES.items()},
    }
    port = local.free_port()
    with local.environment(stack_databases):
        try:
            airflow_stack.start(port)
            wall, published = _time_backfill(port, first, days, urls["warehouse"], timeout_seconds)
        finally:
            airflow_stack.stop()
    return {
        "dates": days, "first_date": first.isoformat(), "last_date": LAST_SNAPSHOT.isoformat(),
        "source_lines": loaded.lines, "wall_seconds": round(wall, 1),
        "seconds_per_date": round(wall / days, 1),
        "seconds_between_first_and_last_publish": round((published[-1] - published[0]).total_seconds(), 1),
        "target_seconds_per_date": SECONDS_PER_DATE_TARGET,
        "status": "PASS" if wall / days <= SECONDS_PER_DATE_TARGET else "FAIL",
    }


def render_markdown(result: dict) -> str:
    """The backfill case as a table, for bench.md."""
    return "\n".join([
        "## Backfill through the real scheduler",
        "",
        f"`airflow backfill create` of {result['dates']} consecutive dates ({result['first_date']} to "
        f"{result['last_date']}) of the real data ({result['source_lines']:,} lines) on the local Airflow stack "
        "(LocalExecutor), from creating the backfill to the last date published.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| wall time (s) | {result['wall_seconds']:,.1f} |",
        f"| per date (s) | {result['seconds_per_date']:,.1f} |",
        f"| first to last publish (s) | {result['seconds_between_first_and_last_publish']:,.1f} |",
        f"| target per date (s) | ≤ {result['target_seconds_per_date']:g}: **{result['status']}** |",
        "",
    ])

