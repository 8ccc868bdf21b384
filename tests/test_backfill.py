"""Backfills for real: a local Airflow (api-server, scheduler, dag-processor, triggerer), driven
through its UI's backfill dialog in headless Chromium, then through `airflow backfill create`."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browser import ARTIFACTS_DIR, assert_real_screenshot, browser_page
from conftest import fresh_database, restore_real_source
from segments import airflow_stack, db, server
from test_features import pandas_rfm, read_lines

pytestmark = pytest.mark.real_data

FIRST, LAST = dt.date(2011, 12, 4), dt.date(2011, 12, 10)
DATES = [FIRST + dt.timedelta(days=offset) for offset in range((LAST - FIRST).days + 1)]
RUNS_TIMEOUT_SECONDS = 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def airflow(real_source_dump, tmp_path_factory):
    """A running local Airflow with databases of its own; stopped afterwards."""
    names = {"source": "test_ui_source", "warehouse": "test_ui_warehouse", "metadata": "test_ui_airflow"}
    urls = {role: fresh_database(name) for role, name in names.items()}
    with db.connect_url(urls["source"]) as source:
        restore_real_source(source, real_source_dump)
    saved = {name: os.environ.get(name) for name in (
        "AIRFLOW_HOME", "AIRFLOW_CONN_RETAIL_SOURCE", "AIRFLOW_CONN_SEGMENT_WAREHOUSE",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")}
    os.environ.update({
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW_CONN_RETAIL_SOURCE": urls["source"],
        "AIRFLOW_CONN_SEGMENT_WAREHOUSE": urls["warehouse"],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.url(names["metadata"], "postgresql+psycopg"),
    })
    try:
        url = airflow_stack.start(free_port())
        yield {"url": url, "warehouse": urls["warehouse"], "env": dict(os.environ)}
    finally:
        airflow_stack.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def expected_customers(real_data) -> dict[dt.date, int]:
    """Customers with a net purchase before each date, computed independently in pandas."""
    lines = read_lines(real_data)
    # Above half a cent: float sums leave 1e-13 where purchases and returns cancel out exactly.
    return {day: int((pandas_rfm(lines, day)["monetary_revenue"] > 0.005).sum()) for day in DATES}


def published(warehouse_url: str) -> dict[dt.date, tuple[str, int, int, dt.datetime]]:
    """Per published date: run id, customers the run counted, customer rows present, publish time."""
    with db.connect_url(warehouse_url) as conn:
        if conn.execute("select to_regclass('segments.segmentation_runs')").fetchone()[0] is None:
            return {}
        rows = conn.execute(
            "select runs.as_of_date, runs.run_id, runs.customers_segmented, "
            "(select count(*) from segments.customer_segments as customers where customers.as_of_date = runs.as_of_date), "
            "runs.published_at "
            "from segments.segmentation_runs as runs where runs.as_of_date between %s and %s",
            (FIRST, LAST),
        ).fetchall()
    return {as_of: (run_id, segmented, count, published_at) for as_of, run_id, segmented, count, published_at in rows}


def wait_for_snapshots(warehouse_url: str, done) -> dict:
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        snapshots = published(warehouse_url)
        if done(snapshots):
            return snapshots
        time.sleep(5)
    pytest.fail(f"backfill did not publish in {RUNS_TIMEOUT_SECONDS} s; published: {sorted(published(warehouse_url))}; "
                f"see {os.environ['AIRFLOW_HOME']}/logs")


def pick(page, day: dt.date) -> None:
    """Type a date and 02:00 (the nightly trigger time) into the first empty date picker (From, then To)."""
    page.get_by_text("Select date and time").first.click()
    page.get_by_placeholder("YYYY/MM/DD").fill(day.strftime("%Y/%m/%d"))
    page.get_by_placeholder("HH:mm").fill("02:00")
    # Close the picker by clicking elsewhere in the dialog: Escape may close the dialog itself.
    page.get_by_text("Reprocess Behavior").click()
    page.get_by_placeholder("YYYY/MM/DD").wait_for(state="detached")


def let_the_nightly_run_finish_first(airflow) -> None:
    """Unpause the DAG and wait for the scheduler's run for today to publish.

    Airflow runs a backfill beside the DAG's scheduled runs (max_active_runs holds within each),
    and two runs of this DAG must not interleave their extract and aggregates stages (see the
    README): so the nightly run goes first, as an engineer would let it.
    """
    deadline = time.monotonic() + 120
    command = [sys.executable, "-m", "airflow", "dags", "unpause", "customer_segmentation"]
    while subprocess.run(command, env=airflow["env"], capture_output=True, text=True).returncode:
        assert time.monotonic() < deadline, "the DAG was never parsed"
        time.sleep(3)
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with db.connect_url(airflow["warehouse"]) as conn:
            if conn.execute("select to_regclass('segments.segmentation_runs')").fetchone()[0] and conn.execute(
                    "select count(*) from segments.segmentation_runs where as_of_date > %s", (LAST,)).fetchone()[0]:
                return
        time.sleep(5)
    pytest.fail("the nightly run for today did not publish")


def test_backfill_from_the_ui_publishes_each_date_point_in_time(airflow, expected_customers):
    let_the_nightly_run_finish_first(airflow)
    with browser_page(width=1400, height=1000) as page:
        page.goto(airflow["url"])
        page.get_by_label("Username").fill(airflow_stack.ADMIN_USER)
        page.get_by_label("Password").fill(airflow_stack.admin_password())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("text=Dags", timeout=30_000)
        trigger = page.get_by_role("button", name="Trigger").first
        for _ in range(12):  # the dag-processor parses the DAG shortly after start-up
            page.goto(f"{airflow['url']}/dags/customer_segmentation")
            try:
                trigger.wait_for(timeout=5000)
                break
            except PlaywrightTimeout:
                continue
        trigger.click()
        page.get_by_text("Backfill", exact=True).click()
        page.get_by_text("Select date and time").first.wait_for()
        pick(page, FIRST)
        pick(page, LAST)
        page.get_by_text("All Runs", exact=True).click()
        page.wait_for_timeout(500)
        page.screenshot(path=ARTIFACTS_DIR / "backfill-dialog.png")
        assert page.get_by_text(f"{len(DATES)} runs will be triggered.").count() == 1
        page.get_by_role("button", name="Run Backfill").click()

        snapshots = wait_for_snapshots(airflow["warehouse"], lambda found: len(found) == len(DATES))
        page.goto(f"{airflow['url']}/dags/customer_segmentation/runs")
        page.wait_for_timeout(3000)
        page.screenshot(path=ARTIFACTS_DIR / "backfill-finished-runs.png", full_page=True)
    assert_real_screenshot(ARTIFACTS_DIR / "backfill-dialog.png")
    assert_real_screenshot(ARTIFACTS_DIR / "backfill-finished-runs.png")
    assert {day: snapshot[1] for day, snapshot in snapshots.items()} == expected_customers
    assert all(segmented == rows for _, segmented, rows, _ in snapshots.values())
    assert all(run_id.startswith("backfill__") for run_id, *_ in snapshots.values())


def test_backfill_from_the_cli_replaces_published_dates_without_duplicates(airflow, expected_customers):
    before = wait_for_snapshots(airflow["warehouse"], lambda found: len(found) == len(DATES))
    # The last three dates again (all seven would only repeat the same path, slower).
    again = DATES[-3:]
    command = [sys.executable, "-m", "airflow", "backfill", "create", "--dag-id", "customer_segmentation",
               "--from-date", f"{again[0]}T02:00:00", "--to-date", f"{again[-1]}T02:00:00",
               "--reprocess-behavior", "completed", "--max-active-runs", "1"]
    # The scheduler marks the UI's backfill complete a little after its last run; only one may run.
    deadline = time.monotonic() + 180
    while (created := subprocess.run(command, env=airflow["env"], capture_output=True, text=True)).returncode:
        assert "Another backfill is running" in created.stderr and time.monotonic() < deadline, created.stderr[-2000:]
        time.sleep(5)
    after = wait_for_snapshots(
        airflow["warehouse"],
        lambda found: len(found) == len(DATES) and all(found[day][3] > before[day][3] for day in again),
    )
    assert {day: snapshot[1] for day, snapshot in after.items()} == expected_customers
    assert all(segmented == rows for _, segmented, rows, _ in after.values()), "no duplicate customer rows"
    assert all(after[day] == before[day] for day in DATES if day not in again), "other dates untouched"
