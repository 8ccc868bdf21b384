"""Property: scoring in SQL (registry.score_in_sql, past max_training_customers) assigns every
customer to the segment SegmentModel.assign gives it in pandas, for any stored model: any k, any
choice and order of features, any scaler, features at zero, negative or beyond the clip bounds.

The SQL statement is composed from the model (a column per feature, a distance per centroid), so
every shape of model is drawn, not only the default three RFM features at k=3.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments.pipeline import registry, warehouse as warehouse_state
from segments.pipeline.model import FitResult, Scaler, SegmentModel
from segments.settings import ALL_FEATURES, K_MAX, K_MIN

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

AS_OF = dt.date(2011, 12, 10)
# The feature columns' types (sql/intermediate/tables.sql): integers, or numerics of 4 to 6 places.
INTEGER_FEATURES = {"recency_days", "frequency_invoices", "tenure_days", "distinct_products"}


def fitted(low: float, high: float):
    """A number of a fitted model: a quantile, mean or centroid of log1p values of features kept
    to at most 4 decimal places, so zero or far from the magnitudes below 1e-154 whose squares
    PostgreSQL refuses as a float8 underflow."""
    return st.floats(low, high).filter(lambda value: value == 0 or abs(value) > 1e-9)


@st.composite
def models(draw) -> SegmentModel:
    features = tuple(draw(st.permutations(ALL_FEATURES))[: draw(st.integers(1, len(ALL_FEATURES)))])
    k = draw(st.integers(K_MIN, K_MAX))
    low = [draw(fitted(0, 5)) for _ in features]
    high = [value + draw(st.floats(0.01, 10)) for value in low]
    scaler = Scaler(features, tuple(low), tuple(high), tuple(draw(fitted(-5, 5)) for _ in features),
                    tuple(draw(st.floats(0.05, 5)) for _ in features))
    centroids = np.array([[draw(fitted(-5, 5)) for _ in features] for _ in range(k)])
    segment_ids = tuple(sorted(draw(st.sets(st.integers(1, 50), min_size=k, max_size=k))))
    return SegmentModel(scaler, centroids, segment_ids, tuple(f"segment {i}" for i in segment_ids))


def feature_value(feature: str):
    if feature in INTEGER_FEATURES:
        return st.integers(-3, 100_000)
    return st.decimals(-50, 1_000_000, places=4, allow_nan=False, allow_infinity=False)


customers = st.lists(st.fixed_dictionaries({feature: feature_value(feature) for feature in ALL_FEATURES}),
                     min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=models(), rows=customers)
def test_sql_scoring_assigns_as_pandas_does(warehouse, model, rows):
    warehouse_state.ensure_schema(warehouse)
    run_id = "scored-in-sql"
    registry.store(warehouse, run_id, AS_OF, FitResult(model, pd.Series(dtype="int64"), {}), None,
                   with_assignments=False)
    frame = pd.DataFrame(rows, index=[f"{10000 + n}" for n in range(len(rows))]).rename_axis("customer_id")
    with warehouse.transaction():
        warehouse.execute("delete from intermediate.int_customer_features where run_id = %s", (run_id,))
        with warehouse.cursor().copy(
            f"copy intermediate.int_customer_features (run_id, as_of_date, customer_id, is_clusterable, "
            f"{', '.join(ALL_FEATURES)}) from stdin"
        ) as copy:
            for customer_id, values in frame.iterrows():
                copy.write_row((run_id, AS_OF, customer_id, True, *(values[f] for f in ALL_FEATURES)))

    registry.score_in_sql(warehouse, run_id, AS_OF, previous=None)

    in_sql = dict(warehouse.execute(
        "select customer_id, segment_id from internal.customer_assignments where run_id = %s", (run_id,)).fetchall())
    in_pandas = model.assign(frame.astype(float)).to_dict()
    assert in_sql == in_pandas


def test_storing_a_runs_model_again_replaces_its_assignments(warehouse):
    """A retried training task stores its run's model again: the assignments of the first attempt
    go with the model they belonged to."""
    warehouse_state.ensure_schema(warehouse)
    model = SegmentModel(Scaler(("recency_days",), (0.0,), (9.0,), (1.0,), (1.0,)), np.array([[0.0], [1.0]]),
                         (1, 2), ("Entry-Level", "VIP Premium"))
    for attempt in ({"10001": 1, "10002": 2, "10003": 2}, {"10001": 2, "10004": 1}):
        registry.store(warehouse, "retried", AS_OF, FitResult(model, pd.Series(attempt), {}), None)
    stored = dict(warehouse.execute(
        "select customer_id, segment_id from internal.customer_assignments where run_id = 'retried'").fetchall())
    assert stored == {"10001": 2, "10004": 1}


# Text PostgreSQL can hold: any character but NUL (surrogates cannot be encoded).
stored_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run_id=stored_text, assignments=st.dictionaries(stored_text, st.integers(1, 3), max_size=20))
def test_stored_assignments_keep_every_customer_id_exactly(warehouse, run_id, assignments):
    """The assignments reach the warehouse as COPY text built column by column: customer ids and
    run ids with tabs, newlines, backslashes or a lone backslash-period arrive unchanged."""
    warehouse_state.ensure_schema(warehouse)
    model = SegmentModel(Scaler(("recency_days",), (0.0,), (9.0,), (1.0,), (1.0,)), np.array([[0.0], [1.0], [2.0]]),
                         (1, 2, 3), ("Entry-Level", "Core Regular", "VIP Premium"))
    series = pd.Series(assignments, index=pd.Index(list(assignments), dtype=object), dtype="int64")
    registry.store(warehouse, run_id, AS_OF, FitResult(model, series, {}), None)
    stored = dict(warehouse.execute(
        "select customer_id, segment_id from internal.customer_assignments where run_id = %s", (run_id,)).fetchall())
    assert stored == assignments
