"""Alerts: the on-call summary of a failed task or of a late snapshot, posted to a chat webhook.

The webhook is the Airflow connection `segments_alerts` (in the environment:
AIRFLOW_CONN_SEGMENTS_ALERTS=https://...), looked up each time an alert is sent, so it rotates
like the database connections without a DAG change. The payload `{"text": ...}` is understood by
Slack, Mattermost, Rocket.Chat and Teams workflow webhooks. Kept light: the DAG file imports
this module at parse time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from urllib.parse import urlencode, urlunsplit

from airflow.sdk import AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference

from segments.settings import Settings

log = logging.getLogger(__name__)
ALERTS_CONN_ID = "segments_alerts"
ALERTS_VARIABLE = f"AIRFLOW_CONN_{ALERTS_CONN_ID.upper()}"


def webhook_url(connection) -> str:
    """The URL an http or https Airflow connection stands for: host, port, path (schema) and query (extras)."""
    if connection.conn_type not in ("http", "https") or not connection.host:
        raise ValueError(
            f"Connection {ALERTS_CONN_ID} must be an http or https URL with a host, got type "
            f"{connection.conn_type!r}; set {ALERTS_VARIABLE}=https://host/path of the chat webhook."
        )
    netloc = f"{connection.host}:{connection.port}" if connection.port else connection.host
    path = "/" + (connection.schema or "")
    return urlunsplit((connection.conn_type, netloc, path, urlencode(connection.extra_dejson), ""))


def post_to_webhook(text: str, timeout_seconds: float = 10) -> None:
    """Post one alert to the webhook of connection `segments_alerts`; without that connection, only say so."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        log.warning("No alert was posted: set %s to the chat webhook's URL to receive alerts.", ALERTS_VARIABLE)
        return
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        webhook_url(connection), data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds):
            pass
    except OSError as error:
        # A broken alert channel must not hide the task's own failure. The URL is a secret: not logged.
        log.error("Could not post the alert to the webhook of connection %s (%s): %s; check it.",
                  ALERTS_CONN_ID, ALERTS_VARIABLE, error)


class WebhookNotifier(BaseNotifier):
    """Post the one-paragraph failure summary to the webhook of connection `segments_alerts`."""

    def __init__(self, timeout_seconds: float = 10) -> None:
        super().__init__()
        self.timeout_seconds = timeout_seconds

    def notify(self, context) -> None:
        from segments.outputs.alerts import summarise_failure

        post_to_webhook(summarise_failure(context), self.timeout_seconds)


def log_failure(context) -> None:
    """Failure callback: the summary, first thing in the task's log."""
    from segments.outputs.alerts import summarise_failure

    log.error("%s", summarise_failure(context))


def failure_callbacks() -> list:
    """The DAG's failure callbacks: the logged summary, and the same summary posted to the alert webhook."""
    return [log_failure, WebhookNotifier()]


def publish_deadline(settings: Settings) -> DeadlineAlert:
    """Airflow's check of the promise "snapshot D is published by <deadline> business time on day D"."""
    return DeadlineAlert(
        # A scheduled run's logical date is its trigger time: day D at the schedule time.
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=settings.publish_deadline_after_schedule,
        callback=AsyncCallback(
            alert_missed_publish_deadline, kwargs={"deadline": settings.publish_deadline, "timezone": settings.timezone}
        ),
    )


async def alert_missed_publish_deadline(context: dict, deadline: str, timezone: str) -> None:
    """Deadline callback, run by Airflow's triggerer: the late snapshot's summary, logged and posted."""
    # Connections, the warehouse and the webhook block: they run off the triggerer's event loop.
    await asyncio.to_thread(_alert_missed_publish_deadline, context["dag_run"], deadline, timezone)


def _alert_missed_publish_deadline(dag_run: dict, deadline: str, timezone: str) -> None:
    from segments.outputs.alerts import summarise_missed_deadline

    if dag_run["run_type"] != "scheduled":
        # Backfills and manual runs of past dates start after their deadline: the promise is the nightly run's.
        log.info("Run %s (%s) missed the publish deadline; only scheduled runs alert.",
                 dag_run["dag_run_id"], dag_run["run_type"])
        return
    summary = summarise_missed_deadline(dag_run, deadline, timezone)
    log.error("%s", summary)
    post_to_webhook(summary)
