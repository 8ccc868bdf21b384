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
