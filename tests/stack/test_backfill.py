"""Backfills for real, as an engineer runs them from a fresh `make airflow`: the local Airflow
(api-server, scheduler, dag-processor, triggerer) with the real data, the README's backfill
command as written, overlapping runs beside it, then the UI's backfill dialog in headless Chromium.

Every published snapshot must equal what sequential runs publish (customer ids, segment ids and
names, every feature), dates must publish in order, and day-to-day keep must stay high.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browser import ARTIFACTS_DIR, assert_real_screenshot, browser_page
from conftest import fresh_database, restore_real_source
from pandas_reference import pandas_rfm, read_lines
from pipeline_helpers import run_stages
from segments import db
from segments.settings import DAG_ID
from segments.tools import airflow_stack, local, server

pytestmark = pytest.mark.real_data

# The README's backfill command, as written there.
README_BACKFILL = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", "2011-12-01T02:00:00",
                   "--to-date", "2011-12-10T02:00:00", "--reprocess-behavior", "completed"]
BACKFILL_DATES = [dt.date(2011, 12, 1) + dt.timedelta(days=offset) for offset in range(10)]
# Manual runs an engineer starts while the backfill runs: the two days before its first date.
MANUAL_DATES = [dt.date(2011, 11, 29), dt.date(2011, 11, 30)]
ALL_DATES = MANUAL_DATES + BACKFILL_DATES
UI_FIRST, UI_LAST = dt.date(2011, 12, 4), dt.date(2011, 12, 10)
UI_DATES = [day for day in BACKFILL_DATES if UI_FIRST <= day <= UI_LAST]
# What the README says to type into the dialog's Max Active Runs (whose own default, 1, runs one
# whole run after another): the command line's default.
UI_MAX_ACTIVE_RUNS = 10
RUNS_TIMEOUT_SECONDS = 1200
METADATA_DATABASE = "test_ui_airflow"


@pytest.fixture(scope="module")
def airflow(real_source_dump, tmp_path_factory):
    """A running local Airflow with databases of its own; stopped afterwards."""
    names = {"source": "test_ui_source", "warehouse": "test_ui_warehouse", "metadata": METADATA_DATABASE}
    urls = {role: fresh_database(name) for role, name in names.items()}
    with db.connect_url(urls["source"]) as source:
        restore_real_source(source, real_source_dump)
    stack_databases = {
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW_CONN_RETAIL_SOURCE": urls["source"],
        "AIRFLOW_CONN_SEGMENT_WAREHOUSE": urls["warehouse"],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.url(names["metadata"], "postgresql+psycopg"),
    }
    with local.environment(stack_databases):
        try:
            port = local.free_port()
            url = airflow_stack.start(port)
            yield {"url": url, "port": port, "warehouse": urls["warehouse"], "env": dict(os.environ)}
        finally:
            airflow_stack.stop()


def segments_cli(airflow, *args: str) -> subprocess.CompletedProcess:
    """The `segments` command, as the README has engineers type it."""
    return subprocess.run([sys.executable, "-m", "segments.tools.cli", *args], env=airflow["env"],
                          capture_output=True, text=True, timeout=300)


def airflow_cli(airflow, *args: str) -> subprocess.CompletedProcess:
    return segments_cli(airflow, "airflow-cli", "--port", str(airflow["port"]), *args)


def published(warehouse_url: str) -> dict[dt.date, dict]:
    """Per published date: run id, publish time, and the snapshot as analysts compare it."""
    with db.connect_url(warehouse_url) as conn:
        if conn.execute("select to_regclass('segments.segmentation_runs')").fetchone()[0] is None:
            return {}
        runs = conn.execute("select as_of_date, run_id, published_at, customers_segmented "
                            "from segments.segmentation_runs where as_of_date <= %s", (max(ALL_DATES),)).fetchall()
        return {as_of: {"run_id": run_id, "published_at": published_at, "customers": customers,
                        "rows": snapshot_rows(conn, as_of)}
                for as_of, run_id, published_at, customers in runs}


def snapshot_rows(conn, as_of: dt.date) -> list[tuple]:
    return conn.execute(
        "select customer_id, segment_id, segment_name, recency_days, frequency_invoices, monetary_revenue, "
        "avg_order_revenue, items_per_order, tenure_days, return_rate, distinct_products "
        "from segments.customer_segments where as_of_date = %s order by customer_id", (as_of,)).fetchall()


def json_output(result: subprocess.CompletedProcess) -> list[dict]:
    """The JSON an `airflow ... -o json` command printed (Python warnings may precede it on stdout)."""
    found = [line for line in result.stdout.splitlines() if line.startswith("[")]
    return json.loads(found[-1]) if found else []


def dag_is_paused(airflow) -> bool | None:
    """Whether the stack's DAG is paused (None: not parsed yet), as `airflow dags list` says."""
    listed = airflow_cli(airflow, "dags", "list", "-o", "json")
    found = [dag for dag in json_output(listed) if dag["dag_id"] == DAG_ID]
    return str(found[0]["is_paused"]).lower() == "true" if found else None


def unfinished_runs(airflow) -> int:
    listed = airflow_cli(airflow, "dags", "list-runs", DAG_ID, "--state", "running", "-o", "json")
    queued = airflow_cli(airflow, "dags", "list-runs", DAG_ID, "--state", "queued", "-o", "json")
    return sum(len(json_output(result)) for result in (listed, queued))


def wait_for(airflow, done, what: str) -> dict:
    deadline = time.monotonic() + RUNS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        snapshots = published(airflow["warehouse"])
        if done(snapshots):
            return snapshots
        time.sleep(3)
    pytest.fail(f"{what} did not happen in {RUNS_TIMEOUT_SECONDS} s; published: {sorted(published(airflow['warehouse']))}; "
                f"see {os.environ['AIRFLOW_HOME']}/logs")


@pytest.fixture(scope="module")
def sequential(real_source_dump) -> dict[dt.date, list[tuple]]:
    """What sequential runs publish for every date, one after the other in date order."""
    with db.connect_url(fresh_database("test_sequential_source")) as source, \
            db.connect_url(fresh_database("test_sequential_warehouse")) as warehouse:
        restore_real_source(source, real_source_dump)
        for day in ALL_DATES:
            run_stages(source, warehouse, day)
        return {day: snapshot_rows(warehouse, day) for day in ALL_DATES}


@pytest.fixture(scope="module")
def expected_customers(real_data) -> dict[dt.date, int]:
    """Customers with a net purchase before each date, computed independently in pandas."""
    lines = read_lines(real_data)
    # Above half a cent: float sums leave 1e-13 where purchases and returns cancel out exactly.
    return {day: int((pandas_rfm(lines, day)["monetary_revenue"] > 0.005).sum()) for day in ALL_DATES}


def keep_share(before: list[tuple], after: list[tuple]) -> float:
    """Share of the customers of both snapshots that kept their segment id."""
    earlier = {row[0]: row[1] for row in before}
    both = [(earlier[row[0]], row[1]) for row in after if row[0] in earlier]
    return sum(old == new for old, new in both) / len(both)


def test_readme_backfill_on_a_fresh_stack_publishes_every_date_in_order_as_sequential_runs_do(
    airflow, sequential, expected_customers
):
    # `make airflow` leaves the DAG active, as the README says; a paused DAG's backfill is refused
    # with what to do, instead of sitting queued.
    deadline = time.monotonic() + 120
    while dag_is_paused(airflow) is None:
        assert time.monotonic() < deadline, "the dag-processor never parsed the DAG"
        time.sleep(2)
    assert dag_is_paused(airflow) is False
    assert airflow_cli(airflow, "dags", "pause", DAG_ID).returncode == 0
    refused = airflow_cli(airflow, *README_BACKFILL)
    assert refused.returncode == 1 and "is paused" in refused.stderr and "dags unpause" in refused.stderr
    assert airflow_cli(airflow, "dags", "unpause", DAG_ID).returncode == 0

    # Unpausing starts the latest nightly run (today, years after the data ends); manual runs of
    # the two days before the backfill start beside it, the backfill beside them, then a second one.
    started = time.monotonic()
    for day in MANUAL_DATES:
        triggered = airflow_cli(airflow, "dags", "trigger", DAG_ID, "--logical-date", f"{day}T02:00:00+00:00")
        assert triggered.returncode == 0, triggered.stderr[-3000:]
    created = airflow_cli(airflow, *README_BACKFILL)
    assert created.returncode == 0, created.stderr[-3000:]
    second = airflow_cli(airflow, "backfill", "create", "--dag-id", DAG_ID, "--from-date", "2011-12-05T02:00:00",
                         "--to-date", "2011-12-07T02:00:00", "--reprocess-behavior", "completed")
    assert second.returncode != 0 and "Another backfill is running" in second.stderr + second.stdout

    snapshots = wait_for(airflow, lambda found: set(ALL_DATES) <= set(found), "every date published")
    finished = time.monotonic()
    while unfinished_runs(airflow) and time.monotonic() < finished + 300:
        time.sleep(3)

    differences = {day: len(set(snapshots[day]["rows"]) ^ set(sequential[day])) for day in ALL_DATES}
    assert differences == {day: 0 for day in ALL_DATES}, "a snapshot differs from what sequential runs publish"
    assert {day: snapshots[day]["customers"] for day in ALL_DATES} == expected_customers
    order = [snapshots[day]["published_at"] for day in ALL_DATES]
    assert order == sorted(order), "dates must publish in date order"
    keeps = {day: keep_share(snapshots[day - dt.timedelta(days=1)]["rows"], snapshots[day]["rows"])
             for day in BACKFILL_DATES}
    assert min(keeps.values()) >= 0.95, keeps

    # The nightly run for today failed with a message that says why, not with a migration figure.
    with db.connect_url(airflow["warehouse"]) as conn:
        (problem,) = conn.execute(
            "select detail ->> 'error' from internal.run_attempts where stage = 'extract' and status = 'failed' "
            "and as_of_date > %s", (max(ALL_DATES),)).fetchone()
    assert "no sales since, or the source stopped syncing" in problem

    record_timing("backfill-scheduler-run.json", snapshots, BACKFILL_DATES, finished - started,
                  snapshots_compared=len(differences), differences=sum(differences.values()),
                  keep_share_by_date={day.isoformat(): round(share, 4) for day, share in keeps.items()})


def record_timing(file_name: str, snapshots: dict, dates: list[dt.date], wall_seconds: float, **details) -> None:
    """A backfill's timing, in the terms of `make bench BACKFILL_DAYS=`, written to the test artifacts."""
    published_at = [snapshots[day]["published_at"] for day in dates]
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS_DIR / file_name).write_text(json.dumps({
        "dates": len(dates), "wall_seconds_to_last_publish": round(wall_seconds, 1),
        "seconds_between_first_and_last_publish": round((max(published_at) - min(published_at)).total_seconds(), 1),
        **details,
    }, indent=2))


def pick(page, day: dt.date) -> None:
    """Type a date and 02:00 (the nightly trigger time) into the first empty date picker (From, then To)."""
    page.get_by_text("Select date and time").first.click()
    page.get_by_placeholder("YYYY/MM/DD").fill(day.strftime("%Y/%m/%d"))
    page.get_by_placeholder("HH:mm").fill("02:00")
    # Close the picker by clicking elsewhere in the dialog: Escape may close the dialog itself.
    page.get_by_text("Reprocess Behavior").click()
    page.get_by_placeholder("YYYY/MM/DD").wait_for(state="detached")


def test_backfill_from_the_ui_republishes_the_same_snapshots(airflow, sequential):
    before = wait_for(airflow, lambda found: set(ALL_DATES) <= set(found), "the CLI backfill")
    # Airflow runs one backfill of a DAG at a time: wait until the CLI's is complete.
    while unfinished_runs(airflow):
        time.sleep(3)
    with browser_page(width=1400, height=1000) as page:
        page.goto(airflow["url"])
        page.get_by_label("Username").fill(airflow_stack.ADMIN_USER)
        page.get_by_label("Password").fill(airflow_stack.admin_password())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("text=Dags", timeout=30_000)
        trigger = page.get_by_role("button", name="Trigger").first
        for _ in range(12):
            page.goto(f"{airflow['url']}/dags/{DAG_ID}")
            try:
                trigger.wait_for(timeout=5000)
                break
            except PlaywrightTimeout:
                continue
        trigger.click()
        page.get_by_text("Backfill", exact=True).click()
        page.get_by_text("Select date and time").first.wait_for()
        pick(page, UI_FIRST)
        pick(page, UI_LAST)
        page.get_by_text("All Runs", exact=True).click()
        page.locator("input[name=max_active_runs]").fill(str(UI_MAX_ACTIVE_RUNS))
        page.wait_for_timeout(500)
        page.screenshot(path=ARTIFACTS_DIR / "backfill-dialog.png")
        assert page.get_by_text(f"{len(UI_DATES)} runs will be triggered.").count() == 1
        page.get_by_role("button", name="Run Backfill").click()
        clicked = time.monotonic()

        after = wait_for(airflow, lambda found: all(
            found[day]["published_at"] > before[day]["published_at"] for day in UI_DATES), "the UI backfill")
        finished = time.monotonic()
        page.goto(f"{airflow['url']}/dags/{DAG_ID}/runs")
        page.wait_for_timeout(3000)
        page.screenshot(path=ARTIFACTS_DIR / "backfill-finished-runs.png", full_page=True)
    assert_real_screenshot(ARTIFACTS_DIR / "backfill-dialog.png")
    assert_real_screenshot(ARTIFACTS_DIR / "backfill-finished-runs.png")
    assert all(after[day]["run_id"].startswith("backfill__") for day in UI_DATES)
    assert {day: after[day]["rows"] for day in ALL_DATES} == {day: sequential[day] for day in ALL_DATES}
    assert all(after[day] == before[day] for day in ALL_DATES if day not in UI_DATES), "other dates untouched"
    # The value typed into the dialog is the backfill's.
    with db.connect_url(server.url(METADATA_DATABASE)) as conn:
        (max_active_runs,) = conn.execute("select max_active_runs from backfill order by id desc limit 1").fetchone()
    assert max_active_runs == UI_MAX_ACTIVE_RUNS
    record_timing("backfill-ui-run.json", after, UI_DATES, finished - clicked, max_active_runs=max_active_runs)
