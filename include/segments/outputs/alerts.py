"""What the person on call reads when a task fails."""

from __future__ import annotations

import datetime as dt

import psycopg

from segments import db
from segments.pipeline import warehouse
from segments.pipeline.snapshot import snapshot_date
from segments.settings import WAREHOUSE_CONN_ID, Settings


def summarise_failure(context) -> str:
    """One paragraph: what failed, for which date, and what analysts still see."""
    task_instance = context["ti"]
    snapshot = task_instance.xcom_pull(task_ids="resolve_snapshot") or {}
    as_of_date = snapshot.get("as_of_date")
    if as_of_date is None:
        run = context["dag_run"]
        as_of_date = snapshot_date(run.logical_date, run.run_after, Settings().timezone).isoformat()
    return failure_summary(as_of_date, task_instance.task_id, context.get("exception"), _what_analysts_see())


def summarise_missed_deadline(dag_run: dict, deadline: str, timezone: str) -> str:
    """One paragraph: which snapshot is late, what its run is doing, and what analysts still see.

    `dag_run` is the run as a deadline callback receives it (the REST API's JSON form).
    """
    logical_date = dag_run.get("logical_date")
    as_of_date = snapshot_date(
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
    """What analysts see now, asked of the warehouse on a connection of its own."""
    try:
        with db.connect(WAREHOUSE_CONN_ID) as wh:
            return what_analysts_see(wh)
    except ConnectionError:
        return what_analysts_see(None)


def what_analysts_see(wh: psycopg.Connection | None) -> str:
    """One sentence for the person on call: the snapshot analysts see now (None: the warehouse is unreachable)."""
    if wh is None:
        return "The warehouse could not be reached to check what is published."
    try:
        current = warehouse.current_snapshot(wh)
    except psycopg.Error:
        return "The warehouse could not be asked what is published."
    if current is None:
        return "No snapshot has been published yet."
    return (f"Analysts still see snapshot {current['as_of_date']} (run {current['run_id']}, "
            f"{current['customers_segmented']} customers), unchanged.")


def failure_summary(as_of_date: str | None, task_id: str, error: BaseException | None, still: str) -> str:
    """One paragraph for the person on call: what failed, for which date, and `still`, what is published."""
    reason = str(error).rstrip(".") if error else "unknown error"
    published = (
        "The snapshot itself was published; only its report is missing (the Customer segments page "
        "rebuilds it on demand)." if task_id == "report" else "Nothing of this run was published."
    )
    return (
        f"Customer segmentation for {as_of_date or 'an unknown date'} failed in task {task_id}: {reason}. "
        f"{published} {still} "
        "Fix the cause and clear the failed task (or rerun the date) to retry; reruns are safe."
    )
