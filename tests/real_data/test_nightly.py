"""Production behaviour of the nightly job on the real data: point in time, incremental,
accountable for every line, stable segment identity, quality gate, atomic publish."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_helpers import run_stages, snapshot_rows
from segments.errors import SourceError
from segments.pipeline import registry
from segments.pipeline.features import load_features
from segments.tools import load, runner

pytestmark = pytest.mark.real_data

DAY = dt.timedelta(days=1)


def current_date(warehouse):
    return warehouse.execute("select max(as_of_date) from segments.customer_segments_current").fetchone()[0]


def add_source_lines(source, rows: list[str]) -> None:
    """Append tab-separated lines (contract column order) to the source."""
    load.copy_into_source(source, ["".join(row + "\n" for row in rows)], replace=False)


def test_lines_dated_on_or_after_the_snapshot_change_nothing(real_source, warehouse):
    as_of = dt.date(2011, 12, 5)
    run_stages(real_source, warehouse, as_of)
    before = snapshot_rows(warehouse, as_of)
    add_source_lines(real_source, [
        "999001\t85123A\tLATE LINE\t500\t2011-12-05 00:00:00\t2.55\t17850\tUnited Kingdom",
        "999002\t85123A\tLATER LINE\t500\t2011-12-08 10:00:00\t2.55\t12347\tIceland",
    ])
    run_stages(real_source, warehouse, as_of)
    assert snapshot_rows(warehouse, as_of) == before


def test_backfill_after_later_runs_equals_what_was_published_at_the_time(real_source, warehouse):
    for day in (1, 2, 3):
        run_stages(real_source, warehouse, dt.date(2011, 12, day))
    published_then = snapshot_rows(warehouse, dt.date(2011, 12, 2))
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    assert runner.run(dt.date(2011, 12, 2)) == "success"
    assert snapshot_rows(warehouse, dt.date(2011, 12, 2)) == published_then
    assert current_date(warehouse) == dt.date(2011, 12, 9), "a backfill must not replace the current snapshot"


def test_skipped_days_lose_no_line(real_source, warehouse):
    run_stages(real_source, warehouse, dt.date(2011, 12, 1))
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 8))
    assert result["extract"]["window_start"] == "2011-11-27", "resumes from the high-water mark minus the look-back"
    in_source = real_source.execute(
        "select count(*) from retail.invoice_lines where invoice_date < '2011-12-08'").fetchone()[0]
    in_raw = warehouse.execute("select count(*) from raw.invoice_lines").fetchone()[0]
    accounted = warehouse.execute(
        "select lines_in_snapshot from segments.segmentation_runs where as_of_date = '2011-12-08'").fetchone()[0]
    assert in_source == in_raw == accounted


def test_every_extracted_line_is_counted_in_exactly_one_class(real_source, warehouse):
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    counts = {(row["line_class"], row["exclusion_reason"]): row["lines"] for row in result["aggregates"]["line_counts"]}
    assert sum(counts.values()) == result["extract"]["lines_extracted"] == 541_909
    classes = {line_class for line_class, _ in counts}
    assert classes == {"purchase", "return", "non_product", "no_customer", "duplicate", "invalid"}
    assert counts[("no_customer", "no customer id")] > 130_000
    assert counts[("invalid", "zero unit price")] > 0
    published = warehouse.execute(
        "select scope, sum(lines) from segments.line_accounting where as_of_date = '2011-12-10' group by 1 order by 1"
    ).fetchall()
    assert published == [("extracted", 541_909), ("snapshot", 541_909)]


def test_segments_keep_their_ids_and_names_from_day_to_day(real_source, warehouse):
    names_by_day = []
    for day in range(1, 11):
        result = run_stages(real_source, warehouse, dt.date(2011, 12, day))
        metrics = result["training"]["metrics"]
        if day > 1:
            assert metrics["changed_segment_share"] <= 0.05, f"2011-12-{day:02}: {metrics['changed_segment_share']:.1%}"
        names_by_day.append(warehouse.execute(
            "select segment_id, segment_name from segments.segment_profiles where as_of_date = %s order by 1",
            (dt.date(2011, 12, day),)).fetchall())
    assert all(names == names_by_day[0] for names in names_by_day)
    assert {name for _, name in names_by_day[0]} == {"VIP Premium", "Core Regular", "Entry-Level"}
    published_dates = warehouse.execute("select count(*) from segments.segmentation_runs").fetchone()[0]
    assert published_dates == 10


def test_same_data_gives_the_same_ids_and_names(real_source, warehouse):
    run_stages(real_source, warehouse, dt.date(2011, 12, 6))
    first = snapshot_rows(warehouse, dt.date(2011, 12, 6))
    run_stages(real_source, warehouse, dt.date(2011, 12, 6), full_refresh=True)
    assert snapshot_rows(warehouse, dt.date(2011, 12, 6)) == first


def test_stored_model_rescores_every_customer_exactly(real_source, warehouse):
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    model = registry.load(warehouse, result["snapshot"].run_id)
    frame = load_features(warehouse, result["snapshot"].run_id)
    stored = dict(warehouse.execute(
        "select customer_id, segment_id from segments.customer_segments where as_of_date = '2011-12-10'").fetchall())
    assert model.assign(frame).to_dict() == stored


def test_quality_gate_refuses_a_bad_model_and_keeps_the_previous_snapshot(real_source, warehouse, monkeypatch):
    run_stages(real_source, warehouse, dt.date(2011, 12, 8))
    before = snapshot_rows(warehouse, dt.date(2011, 12, 8))
    monkeypatch.setenv("SEGMENTS_MIN_SILHOUETTE", "0.99")
    assert runner.run(dt.date(2011, 12, 9)) == "failed"
    assert current_date(warehouse) == dt.date(2011, 12, 8)
    assert snapshot_rows(warehouse, dt.date(2011, 12, 8)) == before
    refusal = warehouse.execute(
        "select status, detail ->> 'reason' from internal.run_attempts "
        "where stage = 'quality_gate' and as_of_date = '2011-12-09'").fetchone()
    assert refusal[0] == "refused" and "silhouette" in refusal[1]


def test_failure_inside_publish_leaves_the_previous_snapshot_intact_and_current(real_source, warehouse):
    run_stages(real_source, warehouse, dt.date(2011, 12, 8))
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    before = {day: snapshot_rows(warehouse, dt.date(2011, 12, day)) for day in (8, 9)}
    # A real failure half-way through the publishing transaction: after customer_segments and
    # segment_profiles are rewritten, writing the migrations fails.
    warehouse.execute("""
        create function internal.fail_publish() returns trigger language plpgsql as
        $$ begin raise exception 'injected failure inside publish'; end $$;
        create trigger fail_publish before insert on segments.segment_migrations
        for each statement execute function internal.fail_publish();
    """)
    assert runner.run(dt.date(2011, 12, 9)) == "failed"
    assert runner.run(dt.date(2011, 12, 10)) == "failed"
    assert {day: snapshot_rows(warehouse, dt.date(2011, 12, day)) for day in (8, 9)} == before
    assert current_date(warehouse) == dt.date(2011, 12, 9)
    assert warehouse.execute(
        "select count(*) from segments.customer_segments where as_of_date = '2011-12-10'").fetchone()[0] == 0


def test_a_source_without_lines_or_columns_stops_the_run_before_publishing(source, warehouse):
    source.execute("create schema retail; create table retail.invoice_lines (invoice_no text, invoice_date timestamp)")
    with pytest.raises(SourceError, match="lost columns"):
        run_stages(source, warehouse, dt.date(2011, 12, 10))
    source.execute("drop table retail.invoice_lines")
    load.copy_into_source(source, [], replace=True)
    with pytest.raises(SourceError, match="no invoice lines dated before 2011-12-10"):
        run_stages(source, warehouse, dt.date(2011, 12, 10))
    assert warehouse.execute("select count(*) from segments.segmentation_runs").fetchone()[0] == 0


def test_customers_without_net_purchase_are_counted_not_clustered(real_source, warehouse):
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    featured = result["features"]
    assert featured["customers_excluded"] > 0
    segmented = warehouse.execute(
        "select customers_segmented, customers_excluded, (select count(*) from segments.customer_segments) "
        "from segments.segmentation_runs").fetchone()
    assert segmented == (featured["customers_segmented"], featured["customers_excluded"], featured["customers_segmented"])


def test_changed_history_is_re_extracted_day_by_day(real_source, warehouse):
    run_stages(real_source, warehouse, dt.date(2011, 12, 5))
    changed_days = real_source.execute(
        "select count(distinct invoice_date::date) from retail.invoice_lines where invoice_date < '2011-01-01'"
    ).fetchone()[0]
    # The shop's history changes far behind the look-back (here: a reload without its first month).
    real_source.execute("delete from retail.invoice_lines where invoice_date < '2011-01-01'")
    result = run_stages(real_source, warehouse, dt.date(2011, 12, 6), force=True)
    assert result["extract"]["changed_days_reextracted"] == changed_days, "only the days that changed are re-read"
    assert result["extract"]["window_start"] == "2011-12-01", "the window itself is the usual one"
    in_source = real_source.execute(
        "select count(*) from retail.invoice_lines where invoice_date < '2011-12-06'").fetchone()[0]
    assert warehouse.execute("select count(*) from raw.invoice_lines").fetchone()[0] == in_source
    assert warehouse.execute(
        "select lines_in_snapshot, changed_days_reextracted from segments.segmentation_runs "
        "where as_of_date = '2011-12-06'"
    ).fetchone() == (in_source, changed_days)
