"""What the person on call reads when a task fails."""

from __future__ import annotations

import datetime as dt

from segments import db, nightly
from segments.settings import WAREHOUSE_CONN_ID, Settings


def summarise_failure(context) -> str:
    """One paragraph: what failed, for which date, and what analysts still see."""
    task_instance = context["ti"]
    snapshot = task_instance.xcom_pull(task_ids="resolve_snapshot") or {}
    as_of_date = snapshot.get("as_of_date")
    if as_of_date is None:
        run = context["dag_run"]
        as_of_date = nightly.snapshot_date(run.logical_date, run.run_after, Settings().timezone).isoformat()
    try:
        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return nightly.failure_summary(warehouse, as_of_date, task_instance.task_id, context.get("exception"))
    except ConnectionError:
        return nightly.failure_summary(None, as_of_date, task_instance.task_id, context.get("exception"))


def summarise_missed_deadline(dag_run: dict, deadline: str, timezone: str) -> str:
    """One paragraph: which snapshot is late, what its run is doing, and what analysts still see.

    `dag_run` is the run as a deadline callback receives it (the REST API's JSON form).
    """
    logical_date = dag_run.get("logical_date")
    as_of_date = nightly.snapshot_date(
        dt.datetime.fromisoformat(logical_date) if logical_date else None,
        dt.datetime.fromisoformat(dag_run["run_after"]),
        timezone,
    )
    return (
        f"Customer segmentation snapshot {as_of_date} was not published by {deadline} ({timezone}): "
        f"run {dag_run['dag_run_id']} is {dag_run['state']}. {_what_analysts_see()} "
        "Look in Airflow for a task that hangs or waits for a slot; a hung task fails at its "
        "execution timeout, and alerts again then."
    )



def _what_analysts_see() -> str:
    try:
        with db.connect(WAREHOUSE_CONN_ID) as wh:
            return nightly.what_analysts_see(wh)
    except ConnectionError:
        return nightly.what_analysts_see(None)
