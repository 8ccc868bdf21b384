"""Real `dag.test()` runs on the real data: the seed segments, and reruns that change nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from segments.tools import runner

AS_OF = dt.date(2011, 12, 10)


def published(warehouse, table: str, as_of: dt.date) -> list[tuple]:
    columns = {
        "customer_segments": "customer_id, segment_id, segment_name, recency_days, frequency_invoices, monetary_revenue",
        "segment_profiles": "segment_id, segment_name, customers, revenue, mean_monetary_revenue",
    }[table]
    return warehouse.execute(
        f"select {columns} from segments.{table} where as_of_date = %s order by 1, 2", (as_of,)
    ).fetchall()


@pytest.mark.real_data
def test_real_data_gives_the_three_seed_segments_and_reruns_are_idempotent(real_source, warehouse):
    assert runner.run(AS_OF) == "success"
    profiles = {row[1]: row for row in published(warehouse, "segment_profiles", AS_OF)}
    assert set(profiles) == {"VIP Premium", "Core Regular", "Entry-Level"}
    assert max(profiles.values(), key=lambda row: row[4])[1] == "VIP Premium"
    customers = published(warehouse, "customer_segments", AS_OF)
    assert 4_250 <= len(customers) <= 4_400
    run = warehouse.execute(
        "select as_of_date, k, lines_in_snapshot, customers_segmented, report_path from segments.segmentation_runs"
    ).fetchall()
    assert run[0][:4] == (AS_OF, 3, 541_909, len(customers))
    assert Path(run[0][4]).name == "report.html" and Path(run[0][4]).exists()
    current = warehouse.execute("select count(*), min(as_of_date) from segments.customer_segments_current").fetchone()
    assert current == (len(customers), AS_OF)

    assert runner.run(AS_OF) == "success"
    assert published(warehouse, "customer_segments", AS_OF) == customers
    assert published(warehouse, "segment_profiles", AS_OF) == list(profiles.values())
    assert warehouse.execute("select count(*) from segments.segmentation_runs").fetchone()[0] == 1
    assert warehouse.execute("select count(*) from raw.invoice_lines").fetchone()[0] == 541_909
