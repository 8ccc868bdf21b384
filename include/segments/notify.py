"""Failure notifications: an Airflow notifier that posts the on-call summary to a chat webhook.

Configured from the environment (SEGMENTS_ALERT_WEBHOOK_URL); the payload `{"text": ...}` is
understood by Slack, Mattermost, Rocket.Chat and Teams workflow webhooks. Kept light: the DAG
file imports this module at parse time.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)
WEBHOOK_VARIABLE = "SEGMENTS_ALERT_WEBHOOK_URL"


class WebhookNotifier(BaseNotifier):
    """Post the one-paragraph failure summary to a webhook."""

    template_fields = ("webhook_url",)

    def __init__(self, webhook_url: str, timeout_seconds: float = 10) -> None:
        super().__init__()
        self.webhook_url = webhook_url
        self.timeout_seconds = timeout_seconds

    def notify(self, context) -> None:
        from segments.alerts import summarise_failure

        body = json.dumps({"text": summarise_failure(context)}).encode()
        request = urllib.request.Request(
            self.webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds):
                pass
        except OSError as error:
            # A broken alert channel must not hide the task's own failure.
            log.error("Could not post the failure summary to %s: %s", WEBHOOK_VARIABLE, error)


def log_failure(context) -> None:
    """Failure callback: the summary, first thing in the task's log."""
    from segments.alerts import summarise_failure

    log.error("%s", summarise_failure(context))


def failure_callbacks() -> list:
    """The DAG's failure callbacks: always the logged summary, plus the webhook when configured."""
    webhook_url = os.environ.get(WEBHOOK_VARIABLE)
    return [log_failure, *([WebhookNotifier(webhook_url)] if webhook_url else [])]
