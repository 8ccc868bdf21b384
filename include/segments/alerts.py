"""What the person on call reads when a task fails."""

from __future__ import annotations

import logging

from segments import db, nightly
from segments.settings import WAREHOUSE_CONN_ID, Settings

log = logging.getLogger(__name__)


def on_task_failure(context) -> str:
    """Log one paragraph: what failed, for which date, and what analysts still see."""
    task_instance = context["ti"]
    snapshot = task_instance.xcom_pull(task_ids="resolve_snapshot") or {}
    as_of_date = snapshot.get("as_of_date")
    if as_of_date is None:
        run = context["dag_run"]
        as_of_date = nightly.snapshot_date(run.logical_date, run.run_after, Settings().timezone).isoformat()
    try:
        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            summary = nightly.failure_summary(warehouse, as_of_date, task_instance.task_id, context.get("exception"))
    except ConnectionError:
        summary = nightly.failure_summary(None, as_of_date, task_instance.task_id, context.get("exception"))
    log.error("%s", summary)
    return summary
