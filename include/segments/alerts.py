"""What the person on call reads when a task fails."""

from __future__ import annotations

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

