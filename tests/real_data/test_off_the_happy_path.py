"""Off the happy path: overlapping runs, reruns after backfills, odd dates, changed history,
absurd values and shrinking republishes, through `segments run` and `dag.test()` on the real data.

Each test names the item of the issue "Backfills, reruns and odd inputs you can trust" it covers.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from conftest import TEST_WAREHOUSE, fresh_database
from pipeline_helpers import run_stages
from segments import db
from segments.errors import LockTimeoutError, SnapshotDateError
from segments.pipeline import warehouse as warehouse_tables
from segments.pipeline.snapshot import resolve
from segments.settings import Settings
from segments.tools import cli, load, runner, server
from segments.tools.generate import generate_copy_chunks

pytestmark = pytest.mark.real_data

DAY = dt.timedelta(days=1)
REFERENCE_WAREHOUSE = "test_reference_warehouse"


def snapshot(warehouse, as_of: dt.date) -> list[tuple]:
    """A published snapshot as analysts compare it: customer, segment id and name, every feature."""
    return warehouse.execute(
        "select customer_id, segment_id, segment_name, recency_days, frequency_invoices, monetary_revenue, "
        "avg_order_revenue, items_per_order, tenure_days, return_rate, distinct_products "
        "from segments.customer_segments where as_of_date = %s order by customer_id", (as_of,)
    ).fetchall()


def published_dates(warehouse) -> list[dt.date]:
    return [row[0] for row in warehouse.execute("select as_of_date from segments.segmentation_runs order by 1")]


def current_date(warehouse) -> dt.date | None:
    return warehouse.execute("select max(as_of_date) from segments.customer_segments_current").fetchone()[0]


def segments_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`segments run ...` as a user types it, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "segments.tools.cli", "run", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=900)


@pytest.fixture
def reference(real_source):
    """A second, fresh warehouse: what sequential runs publish, to compare against."""
    with db.connect_url(fresh_database(REFERENCE_WAREHOUSE)) as conn:
        yield conn


# -- 1. Interleaved runs --------------------------------------------------------------------

@pytest.mark.parametrize("paused, overtaking", [
    (dt.date(2011, 12, 10), dt.date(2011, 12, 5)),
    (dt.date(2011, 12, 5), dt.date(2011, 12, 10)),
])
def test_a_run_paused_after_its_extract_and_one_that_overtakes_it_both_publish_what_sequential_runs_do(
    real_source, warehouse, reference, paused, overtaking
):
    # The paused run: its extract commits, then it stops between two tasks (as a busy scheduler
    # leaves it) while another date runs start to finish through `segments run`.
    settings = Settings()
    now = dt.datetime.combine(paused, dt.time(2), dt.timezone.utc)
    first = resolve(now, now, f"paused__{paused}", {}, settings)

    def overtake_after_extract(stage: str, seconds: float, result: dict) -> None:
        if stage == "extract":
            overtaker = segments_run("--as-of", overtaking.isoformat())
            assert overtaker.returncode == 0, overtaker.stderr[-3000:]

    runner.run_stages(real_source, warehouse, first, settings, through="publish", on_stage=overtake_after_extract)

    for day in (overtaking, paused):
        run_stages(real_source, reference, day)
        assert snapshot(warehouse, day) == snapshot(reference, day), f"{day} differs from a sequential run"
    assert len(snapshot(warehouse, dt.date(2011, 12, 5))) > 4_250
    assert current_date(warehouse) == dt.date(2011, 12, 10)


# -- 2. Reruns after backfills ----------------------------------------------------------------

def test_a_rerun_after_backfilling_an_early_date_publishes_the_same_snapshot(real_source, warehouse):
    latest = dt.date(2011, 12, 10)
    run_stages(real_source, warehouse, latest)
    first = snapshot(warehouse, latest)
    run_stages(real_source, warehouse, dt.date(2011, 12, 1))
    assert runner.run(latest) == "success"
    assert snapshot(warehouse, latest) == first


def test_distant_backfills_and_a_gap_of_weeks_neither_block_nor_change_a_snapshot(real_source, warehouse):
    latest = dt.date(2011, 12, 10)
    run_stages(real_source, warehouse, latest)
    first = snapshot(warehouse, latest)
    run_stages(real_source, warehouse, dt.date(2011, 6, 1))
    run_stages(real_source, warehouse, latest)
    assert snapshot(warehouse, latest) == first, "a June snapshot is not 2011-12-10's predecessor"
    # The first night after weeks without a run starts afresh (and says so) instead of being
    # compared with a snapshot from weeks before.
    result = run_stages(real_source, warehouse, dt.date(2011, 7, 1))
    assert "changed_segment_share" not in result["training"]["metrics"]
    records = dict(warehouse.execute("select as_of_date, predecessor_as_of_date from segments.segmentation_runs"))
    assert records[dt.date(2011, 7, 1)] is None
    run_stages(real_source, warehouse, dt.date(2011, 7, 2))
    assert dict(warehouse.execute("select as_of_date, predecessor_as_of_date from segments.segmentation_runs"))[
        dt.date(2011, 7, 2)] == dt.date(2011, 7, 1)


# -- 3. Dates in the future ----------------------------------------------------------------------

def test_a_snapshot_date_in_the_future_is_refused_and_publishes_nothing(real_source, warehouse, capsys):
    assert cli.main(["run", "--as-of", "2099-01-01"]) == 1
    assert "in the future" in capsys.readouterr().err
    # The DAG refuses it too, for runs triggered from the UI or by a wrong clock.
    tomorrow = dt.datetime.now(dt.timezone.utc) + 2 * DAY
    with pytest.raises(SnapshotDateError, match="in the future"):
        resolve(tomorrow, tomorrow, "manual", {}, Settings())
    assert warehouse.execute("select to_regclass('segments.segmentation_runs')").fetchone()[0] is None


def test_source_lines_dated_in_the_future_are_counted_and_never_make_a_snapshot_current(real_source, warehouse):
    load.copy_into_source(real_source, [
        "999001\t85123A\tCLOCK ERROR\t6\t2099-03-01 10:00:00\t2.55\t17850\tUnited Kingdom\n"
        "999001\t71053\tCLOCK ERROR\t6\t2099-03-01 10:00:00\t3.39\t17850\tUnited Kingdom\n"
    ], replace=False)
    assert runner.default_as_of() <= dt.date.today() + DAY, "`segments run` never defaults to a future date"
    run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    assert warehouse.execute(
        "select source_lines_dated_after_run from segments.segmentation_runs").fetchone()[0] == 2
    assert warehouse.execute(
        "select line_class, exclusion_reason, lines from segments.line_accounting where scope = 'future'"
    ).fetchall() == [("invalid", "dated after the run started", 2)]
    # A snapshot dated in the future (as an older version could publish) is never current.
    warehouse.execute("insert into segments.segmentation_runs select (date '2099-01-01'), run_id, k, model_features, "
                      "inertia, silhouette, davies_bouldin, calinski_harabasz, segment_sizes, lines_extracted, "
                      "extract_window_start, extract_window_end, lines_in_snapshot, lines_used, lines_excluded, "
                      "lines_quarantined, customers_segmented, customers_excluded, customers_changed_segment, "
                      "stage_seconds, published_at from segments.segmentation_runs")
    assert current_date(warehouse) == dt.date(2011, 12, 10)


# -- 4. Changed history --------------------------------------------------------------------------

def test_changed_prices_of_old_lines_are_re_extracted_and_counted(real_source, warehouse, reference):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    changed = real_source.execute(
        "update retail.invoice_lines set unit_price = unit_price + 1 where ctid in ("
        " select ctid from retail.invoice_lines where invoice_date < '2011-03-01' and customer_id is not null"
        " and quantity > 0 order by invoice_date limit 50)").rowcount
    assert changed == 50
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    assert result["extract"]["changed_days_reextracted"] >= 1
    assert warehouse.execute("select changed_days_reextracted from segments.segmentation_runs "
                             "where as_of_date = '2011-12-10'").fetchone()[0] >= 1
    run_stages(real_source, reference, dt.date(2011, 12, 9))
    run_stages(real_source, reference, dt.date(2011, 12, 10), full_refresh=True)
    assert snapshot(warehouse, dt.date(2011, 12, 10)) == snapshot(reference, dt.date(2011, 12, 10))


def test_after_a_crash_empties_the_unlogged_raw_lines_the_next_run_re_extracts_all_history(
    real_source, warehouse, reference
):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    # What crash recovery does to unlogged tables: they come back empty; the fingerprints stay.
    warehouse.execute("truncate raw.invoice_lines")
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    assert result["extract"]["window_start"] == "1900-01-01", "all history is extracted again"
    in_source = real_source.execute(
        "select count(*) from retail.invoice_lines where invoice_date < '2011-12-10'").fetchone()[0]
    assert warehouse.execute("select count(*) from raw.invoice_lines").fetchone()[0] == in_source
    run_stages(real_source, reference, dt.date(2011, 12, 9))
    run_stages(real_source, reference, dt.date(2011, 12, 10))
    assert snapshot(warehouse, dt.date(2011, 12, 10)) == snapshot(reference, dt.date(2011, 12, 10))


# -- 5. Absurd prices ---------------------------------------------------------------------------

ABSURD_LINES = [
    f"{990000 + n}\t85123A\tTYPO\t57\t2011-12-09 10:{n % 60:02}:00\t9999999999.99\t12347\tIceland\n" for n in range(50)
]


def test_absurd_unit_prices_are_quarantined_not_published(real_source, warehouse):
    load.copy_into_source(real_source, ["".join(ABSURD_LINES)], replace=False)
    run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    quarantined = warehouse.execute(
        "select lines from segments.line_accounting where scope = 'snapshot' and exclusion_reason = 'absurd unit price'"
    ).fetchone()[0]
    assert quarantined == 50
    top = warehouse.execute("select max(monetary_revenue) from segments.customer_segments").fetchone()[0]
    assert top < 1_000_000


def test_a_snapshot_whose_revenue_jumps_by_orders_of_magnitude_is_refused(real_source, warehouse, monkeypatch):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    monkeypatch.setenv("SEGMENTS_MAX_UNIT_PRICE", "1e12")
    load.copy_into_source(real_source, ["".join(ABSURD_LINES)], replace=False)
    with pytest.raises(Exception, match=r"revenue would go from .* \(a factor of"):
        run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    assert published_dates(warehouse) == [dt.date(2011, 12, 9)]


# -- 6. Republishing a date that collapses ----------------------------------------------------------

def test_a_rerun_that_would_collapse_a_published_date_is_refused_unless_forced(real_source, warehouse):
    day = dt.date(2011, 12, 9)
    run_stages(real_source, warehouse, day)
    before = snapshot(warehouse, day)
    real_source.execute("delete from retail.invoice_lines where invoice_date < '2011-12-08'")
    with pytest.raises(Exception, match="republishing would shrink this date's snapshot"):
        run_stages(real_source, warehouse, day, lookback_days=0)
    assert snapshot(warehouse, day) == before
    run_stages(real_source, warehouse, day, lookback_days=0, force=True)
    assert 0 < len(snapshot(warehouse, day)) < len(before) * 0.2


# -- 7. History from any year, dates with nothing to segment --------------------------------------------

def test_history_before_2010_publishes_and_a_date_before_it_fails_clearly(source, warehouse, capsys):
    load.copy_into_source(source, generate_copy_chunks(40_000, 600, dt.date(2008, 1, 1), dt.date(2009, 6, 1), seed=7),
                          replace=True)
    assert cli.main(["run", "--as-of", "2009-06-01"]) == 0
    assert published_dates(warehouse) == [dt.date(2009, 6, 1)]
    capsys.readouterr()
    assert cli.main(["run", "--as-of", "2007-06-01"]) == 1
    assert "nothing of it was published" in capsys.readouterr().err
    assert published_dates(warehouse) == [dt.date(2009, 6, 1)]


def test_show_before_anything_is_published_says_so(warehouse, capsys):
    assert cli.main(["show"]) == 0
    assert "No snapshot published yet" in capsys.readouterr().out


# -- 8. Bad data fails at once ----------------------------------------------------------------------

def test_a_source_without_customer_ids_fails_at_once_with_its_reason(source, warehouse, monkeypatch):
    monkeypatch.setenv("SEGMENTS_TASK_RETRIES", "2")
    guests = "".join(f"{500000 + n}\t85123A\tGUEST\t2\t2011-11-{1 + n % 28:02} 10:00:00\t2.55\t\tFrance\n"
                     for n in range(500))
    load.copy_into_source(source, [guests], replace=True)
    started = time.monotonic()
    assert runner.run(dt.date(2011, 12, 1)) == "failed"
    assert time.monotonic() - started < 55, "a data error must not wait for a retry (the first is after a minute)"
    error = warehouse.execute(
        "select detail ->> 'error' from internal.run_attempts where stage = 'features'").fetchone()[0]
    assert "No customer has a net purchase before 2011-12-01" in error


# -- 9. Simultaneous starts of the same date ------------------------------------------------------------

def test_two_runs_of_the_same_date_started_together_one_runs_the_other_says_why(real_source, warehouse):
    command = [sys.executable, "-m", "segments.tools.cli", "run", "--as-of", "2011-12-10"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = sorted((run.wait(timeout=900), run.stderr.read()) for run in runs)
    assert [code for code, _ in outcomes] == [0, 1], outcomes[1][1][-3000:]
    assert "already in progress" in outcomes[1][1]
    assert published_dates(warehouse) == [dt.date(2011, 12, 10)]


# -- 13. Lock waits are bounded ---------------------------------------------------------------------------

def test_a_lock_wait_is_bounded_and_names_the_run_holding_the_lock(real_source, warehouse, monkeypatch):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    monkeypatch.setenv("SEGMENTS_LOCK_TIMEOUT_SECONDS", "2")
    with db.connect_url(server.url(TEST_WAREHOUSE)) as holder, holder.transaction():
        warehouse_tables.lock_shared_models(holder, "scheduled__2011-12-10", "aggregates", 60)
        started = time.monotonic()
        with pytest.raises(LockTimeoutError, match="held by segments scheduled__2011-12-10 aggregates"):
            run_stages(real_source, warehouse, dt.date(2011, 12, 10))
        assert time.monotonic() - started < 30
    assert published_dates(warehouse) == [dt.date(2011, 12, 9)]
