"""Operations: failure alerts through a real webhook, run status, and withdrawing a bad snapshot."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pipeline_helpers import run_stages
from segments.outputs import operations
from segments.pipeline import warehouse as warehouse_schema
from segments.tools import cli, load, runner
from segments.tools.generate import generate_copy_chunks


class Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        Webhook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        Webhook.paths.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch):
    """A real HTTP endpoint on localhost, registered as the alert webhook (the Airflow connection)."""
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Webhook.received, Webhook.paths = [], []
    monkeypatch.setenv("AIRFLOW_CONN_SEGMENTS_ALERTS",
                       f"http://127.0.0.1:{server.server_port}/hooks/segments?channel=on-call")
    yield Webhook.received
    server.shutdown()


def test_failed_run_posts_its_summary_to_the_webhook(source, warehouse, webhook):
    load.copy_into_source(source, [], replace=True)
    assert runner.run(dt.date(2011, 12, 10)) == "failed"
    assert len(webhook) == 1
    assert Webhook.paths == ["/hooks/segments?channel=on-call"]
    text = webhook[0]["text"]
    assert "Customer segmentation for 2011-12-10 failed in task extract" in text
    assert "no invoice lines dated before 2011-12-10" in text
    assert "No snapshot has been published yet" in text


def test_rollback_of_a_date_never_published_is_refused_and_changes_nothing(source, warehouse, capsys):
    published = dt.date(2011, 7, 1)
    load.copy_into_source(
        source, generate_copy_chunks(20_000, 600, dt.date(2011, 1, 1), published, seed=7), replace=True
    )
    run_stages(source, warehouse, published, k="auto")
    segments_before = warehouse.execute("select count(*) from segments.customer_segments").fetchone()[0]

    assert cli.main(["rollback", "--as-of", "2011-07-02"]) == 1

    error = capsys.readouterr().err
    assert "Snapshot 2011-07-02 is not published, so there is nothing to withdraw; nothing was changed" in error
    assert "Published snapshots: 2011-07-01" in error
    assert "withdrawn" not in error
    assert warehouse.execute("select count(*) from segments.customer_segments").fetchone()[0] == segments_before
    assert operations.rollback(warehouse, published) is None


def scheduled_run_context(run_type: str = "scheduled") -> dict:
    """What Airflow gives a deadline callback: the run in its REST API form, and the deadline."""
    logical_date = "2011-12-10T02:00:00Z"
    return {
        "dag_run": {
            "dag_run_id": f"{run_type}__2011-12-10T02:00:00+00:00", "dag_id": runner.DAG_ID,
            "logical_date": logical_date, "run_after": logical_date, "queued_at": logical_date,
            "start_date": logical_date, "end_date": None, "run_type": run_type, "state": "running", "conf": {},
        },
        "deadline": {"id": "0199b1f4-7d0a-7000-8000-000000000000", "deadline_time": "2011-12-10T07:00:00Z"},
    }


def run_deadline_callback(callback, context: dict) -> list:
    """Run a deadline's callback as Airflow's triggerer does; return the trigger's events."""
    from airflow.triggers.callback import CallbackTrigger

    async def events() -> list:
        trigger = CallbackTrigger(callback.path, {**callback.kwargs, "context": context})
        return [event async for event in trigger.run()]

    return asyncio.run(events())


def test_a_snapshot_late_for_its_deadline_posts_a_summary_to_the_webhook(warehouse, webhook):
    warehouse_schema.ensure_schema(warehouse)
    (deadline,) = runner.load_dag().deadline

    events = run_deadline_callback(deadline.callback, scheduled_run_context())

    assert events[-1].payload["state"] == "success", events[-1].payload
    assert len(webhook) == 1
    text = webhook[0]["text"]
    assert "snapshot 2011-12-10 was not published by 07:00 (Europe/London)" in text
    assert "run scheduled__2011-12-10T02:00:00+00:00 is running" in text
    assert "No snapshot has been published yet." in text


def test_backfills_late_by_construction_post_nothing(warehouse, webhook):
    (deadline,) = runner.load_dag().deadline

    events = run_deadline_callback(deadline.callback, scheduled_run_context("backfill"))

    assert events[-1].payload["state"] == "success", events[-1].payload
    assert webhook == []
