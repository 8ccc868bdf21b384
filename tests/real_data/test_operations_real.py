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
    for table in ("customer_segments", "segment_profiles", "segment_migrations", "line_accounting", "segmentation_runs"):
        rows = warehouse.execute(f"select count(*) from segments.{table} where as_of_date = '2011-12-10'").fetchone()[0]
        assert rows == 0, table
    assert warehouse.execute("select count(*) from segments.customer_segments_current").fetchone()[0] > 4_000
