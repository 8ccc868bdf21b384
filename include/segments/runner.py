"""Run the DAG for one snapshot date in this process, through Airflow (as `airflow dags test`)."""

from __future__ import annotations

import datetime as dt
import sys
from zoneinfo import ZoneInfo

from segments import db, local, queries, report
from segments.settings import PROJECT_ROOT, Settings

DAG_ID = "customer_segmentation"


def default_as_of() -> dt.date:
    """The day after the newest source line: the first snapshot that sees all of the source."""
    with db.connect_url(local.source_url()) as conn:
        (row,) = queries.fetch_all(
            conn, "source/newest_line_before.sql", {"window_end": dt.datetime.max},
            identifiers={"source_table": Settings().source_table},
        )
    if row["newest_invoice_date"] is None:
        raise RuntimeError("The source has no invoice lines: run `segments load PATH` or `segments generate` first.")
    return row["newest_invoice_date"].date() + dt.timedelta(days=1)


def load_dag():
    """The project's DAG, parsed the way the dag-processor parses it."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "customer_segmentation.py"))
    if DAG_ID not in bag.dags:
        raise RuntimeError(f"The DAG did not load: {bag.import_errors}")
    return bag.dags[DAG_ID]


def run(as_of: dt.date, conf: dict | None = None) -> str:
    """Run every task of the DAG for snapshot `as_of` (as `airflow dags test`); return the run's state."""
    logical_date = dt.datetime.combine(as_of, dt.time(), ZoneInfo(Settings().timezone))
    dag_run = load_dag().test(logical_date=logical_date, run_conf=conf or {})
    return str(dag_run.state)


def run_dag(as_of: dt.date | None, conf: dict) -> int:
    """Run the DAG for one date and print the published profiles; exit status 1 if it failed."""
    as_of = as_of or default_as_of()
    print(f"Running {DAG_ID} for snapshot {as_of} ...", file=sys.stderr)
    state = run(as_of, conf)
    with db.connect_url(local.warehouse_url()) as conn:
        if state != "success":
            print(f"\nThe run for {as_of} ended {state}; see the task log above.", file=sys.stderr)
            return 1
        print(report.profiles_table(conn, as_of))
    return 0
