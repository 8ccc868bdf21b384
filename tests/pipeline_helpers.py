"""Run the nightly stages directly (no Airflow), as the DAG's tasks call them."""

from __future__ import annotations

import datetime as dt

from segments.pipeline import snapshot
from segments.settings import Settings
from segments.tools import runner


def run_stages(source, warehouse, as_of: dt.date, settings: Settings | None = None, publish: bool = True, **params) -> dict:
    """The stages for one snapshot date through publish (or features), as the DAG's tasks call them.

    Returns each stage's XCom-sized result by stage name, and the run's Snapshot as "snapshot".
    """
    settings = settings or Settings()
    now = dt.datetime.combine(as_of, dt.time(2), dt.timezone.utc)
    run = snapshot.resolve(now, now, f"test__{as_of}", params, settings)
    results = runner.run_stages(source, warehouse, run, settings, through="publish" if publish else "features")
    return {"snapshot": run, **results}


def snapshot_rows(warehouse, as_of: dt.date) -> dict[str, list[tuple]]:
    """Everything published for one snapshot, minus run ids and timestamps."""
    queries = {
        "customer_segments": "select customer_id, segment_id, segment_name, recency_days, frequency_invoices, "
                             "monetary_revenue, avg_order_revenue, items_per_order, tenure_days, return_rate, "
                             "distinct_products from segments.customer_segments where as_of_date = %s order by 1",
        "segment_profiles": "select segment_id, segment_name, customers, revenue, median_recency_days "
                            "from segments.segment_profiles where as_of_date = %s order by 1",
        "segment_migrations": "select from_segment_name, to_segment_name, customers, revenue "
                              "from segments.segment_migrations where as_of_date = %s order by 1, 2",
        "line_accounting": "select scope, line_class, exclusion_reason, lines from segments.line_accounting "
                           "where as_of_date = %s and scope = 'snapshot' order by 1, 2, 3",
    }
    return {name: warehouse.execute(sql, (as_of,)).fetchall() for name, sql in queries.items()}
