"""`segments status` and `segments rollback` on real snapshots (moved from pipeline/test_operations.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_helpers import run_stages
from segments.outputs import operations


@pytest.mark.real_data
def test_status_shows_runs_and_the_current_snapshot(real_source, warehouse):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    table = operations.status_table(warehouse)
    assert table.startswith("Current snapshot: 2011-12-09")
    assert "test__2011-12-09" in table and "published" in table


@pytest.mark.real_data
def test_rollback_withdraws_a_snapshot_and_the_previous_one_becomes_current(real_source, warehouse):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    run_stages(real_source, warehouse, dt.date(2011, 12, 10))
    current = operations.rollback(warehouse, dt.date(2011, 12, 10))
    assert current["as_of_date"] == dt.date(2011, 12, 9)
    for table in ("customer_segments", "segment_profiles", "segment_definitions", "segment_migrations", "line_accounting",
                  "segmentation_runs"):
        rows = warehouse.execute(f"select count(*) from segments.{table} where as_of_date = '2011-12-10'").fetchone()[0]
        assert rows == 0, table
    assert warehouse.execute("select count(*) from segments.customer_segments_current").fetchone()[0] > 4_000


def migrations_by_ids(warehouse, as_of: dt.date) -> list[tuple]:
    return warehouse.execute(
        "select previous_as_of_date, from_segment_id, to_segment_id, is_new_customer, is_lost_customer, customers "
        "from segments.segment_migrations where as_of_date = %s order by 2 nulls first, 3 nulls first", (as_of,)
    ).fetchall()


def moves_between(warehouse, before: dt.date, after: dt.date) -> list[tuple]:
    """The same moves, counted directly from the customers of the two snapshots."""
    return warehouse.execute(
        "select %(before)s::date, b.segment_id, a.segment_id, b.segment_id is null, a.segment_id is null, count(*) "
        "from (select customer_id, segment_id from segments.customer_segments where as_of_date = %(before)s) b "
        "full join (select customer_id, segment_id from segments.customer_segments where as_of_date = %(after)s) a "
        "using (customer_id) group by 2, 3 order by 2 nulls first, 3 nulls first", {"before": before, "after": after}
    ).fetchall()


@pytest.mark.real_data
def test_withdrawing_a_snapshot_in_the_middle_recomputes_the_next_ones_migrations_against_its_new_predecessor(
    real_source, warehouse
):
    for day in (8, 9, 10):
        run_stages(real_source, warehouse, dt.date(2011, 12, day))
    published = migrations_by_ids(warehouse, dt.date(2011, 12, 10))
    assert published == moves_between(warehouse, dt.date(2011, 12, 9), dt.date(2011, 12, 10))
    assert any(row[3] for row in published) and all((row[1] is None) == row[3] for row in published)
    names = warehouse.execute("select count(*) from segments.segment_migrations m join segments.segment_profiles p "
                              "on p.as_of_date = m.as_of_date and p.segment_id = m.to_segment_id "
                              "where m.as_of_date = '2011-12-10' and p.segment_name <> m.to_segment_name").fetchone()[0]
    assert names == 0, "ids and names agree"

    current = operations.rollback(warehouse, dt.date(2011, 12, 9))

    assert current["as_of_date"] == dt.date(2011, 12, 10)
    assert warehouse.execute("select count(*) from segments.segment_migrations "
                             "where previous_as_of_date = '2011-12-09'").fetchone()[0] == 0
    assert migrations_by_ids(warehouse, dt.date(2011, 12, 10)) == moves_between(
        warehouse, dt.date(2011, 12, 8), dt.date(2011, 12, 10))
    # Withdrawing the first snapshot leaves the next one with nothing to compare against.
    operations.rollback(warehouse, dt.date(2011, 12, 8))
    assert migrations_by_ids(warehouse, dt.date(2011, 12, 10)) == []
