"""Past one machine: training on a bounded sample, and assigning every customer in SQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline_helpers import run_stages
from segments.pipeline import registry
from segments.pipeline.features import load_features
from segments.pipeline.model import FitResult

pytestmark = pytest.mark.real_data
AS_OF = dt.date(2011, 12, 10)


def assignments(warehouse, run_id: str) -> dict[str, int]:
    return dict(warehouse.execute(
        "select customer_id, segment_id from internal.customer_assignments where run_id = %s", (run_id,)).fetchall())


def test_sql_and_pandas_assign_every_customer_to_the_same_segment(real_source, warehouse):
    run_id = run_stages(real_source, warehouse, AS_OF)["snapshot"].run_id
    model = registry.load(warehouse, run_id)
    registry.store(warehouse, "scored-in-sql", AS_OF, FitResult(model, pd.Series(dtype="int64"), {}), None,
                   with_assignments=False)
    # The same customers' features, as that run's own rows (features belong to the run scoring them).
    warehouse.execute(
        "insert into intermediate.int_customer_features select 'scored-in-sql', as_of_date, customer_id, "
        "recency_days, frequency_invoices, monetary_revenue, avg_order_revenue, items_per_order, tenure_days, "
        "return_rate, distinct_products, is_clusterable from intermediate.int_customer_features where run_id = %s",
        (run_id,))
    registry.score_in_sql(warehouse, "scored-in-sql", AS_OF, previous=None)
    in_pandas, in_sql = assignments(warehouse, run_id), assignments(warehouse, "scored-in-sql")
    assert len(in_pandas) > 4_000
    assert in_sql == in_pandas


def test_beyond_the_threshold_training_uses_a_sample_and_every_customer_is_scored_in_sql(
    real_source, warehouse, monkeypatch
):
    monkeypatch.setenv("SEGMENTS_MAX_TRAINING_CUSTOMERS", "1500")
    run_stages(real_source, warehouse, AS_OF - dt.timedelta(days=1))
    result = run_stages(real_source, warehouse, AS_OF)
    trained = result["training"]
    assert trained["scored_in"] == "sql" and trained["training_customers"] == 1500
    published = dict(warehouse.execute(
        "select customer_id, segment_id from segments.customer_segments where as_of_date = %s", (AS_OF,)).fetchall())
    assert len(published) == result["features"]["customers_segmented"]
    model = registry.load(warehouse, result["snapshot"].run_id)
    assert model.assign(load_features(warehouse, result["snapshot"].run_id)).to_dict() == published
    metrics = trained["metrics"]
    assert sum(metrics["segment_sizes"].values()) == len(published)
    assert metrics["customers_in_both_snapshots"] > 4_000
    assert {name for name in metrics["segment_sizes"]} == {"VIP Premium", "Core Regular", "Entry-Level"}


def test_both_paths_count_migration_from_the_published_snapshots(real_source, warehouse, monkeypatch):
    """Customers in both snapshots and those that changed segment, as the stored metrics the quality
    gate reads say, against the two published snapshots themselves: in pandas and scored in SQL."""
    run_stages(real_source, warehouse, AS_OF - dt.timedelta(days=1))
    for max_training_customers in ("200000", "1500"):
        monkeypatch.setenv("SEGMENTS_MAX_TRAINING_CUSTOMERS", max_training_customers)
        result = run_stages(real_source, warehouse, AS_OF)
        before, after = (dict(warehouse.execute(
            "select customer_id, segment_id from segments.customer_segments where as_of_date = %s", (date,)
        ).fetchall()) for date in (AS_OF - dt.timedelta(days=1), AS_OF))
        both = before.keys() & after.keys()
        stored = registry.metrics(warehouse, result["snapshot"].run_id)
        assert stored["customers_in_both_snapshots"] == len(both) > 4_000
        assert stored["customers_changed_segment"] == sum(before[c] != after[c] for c in both)
        assert result["training"]["scored_in"] == ("pandas" if max_training_customers == "200000" else "sql")
