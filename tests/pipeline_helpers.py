"""Run the nightly stages directly (no Airflow), as the DAG's tasks call them."""

from __future__ import annotations

import datetime as dt

from segments import nightly
from segments.settings import Settings


def run_stages(source, warehouse, as_of: dt.date, settings: Settings | None = None, publish: bool = True, **params) -> dict:
    """Every stage for one snapshot date; returns each stage's XCom-sized result."""
    settings = settings or Settings()
    now = dt.datetime.combine(as_of, dt.time(2), dt.timezone.utc)
    snapshot = nightly.resolve_snapshot(now, now, f"test__{as_of}", params, settings)
    extracted = nightly.extract_stage(source, warehouse, snapshot, settings)
    aggregated = nightly.transform_stage(warehouse, snapshot, extracted, settings)
    featured = nightly.features_stage(warehouse, snapshot, settings)
    results = {"snapshot": snapshot, "extracted": extracted, "aggregated": aggregated, "featured": featured}
    if publish:
        results["trained"] = nightly.train_stage(warehouse, snapshot, settings)
        results["gated"] = nightly.gate_stage(warehouse, snapshot, settings)
        results["published"] = nightly.publish_stage(warehouse, snapshot, extracted, featured)
    return results


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
