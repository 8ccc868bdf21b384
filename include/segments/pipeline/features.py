"""Per-customer features as of a snapshot date, computed in SQL from the daily aggregates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import psycopg

from segments import queries
from segments.pipeline.extract import BEGINNING_OF_HISTORY


@dataclass(frozen=True)
class FeatureSummary:
    customers_segmented: int
    customers_excluded: int


def history_start(as_of_date: dt.date, history_days: int | None) -> dt.date:
    """First day of history considered: all of it, or the last `history_days` days before the snapshot."""
    return BEGINNING_OF_HISTORY if history_days is None else as_of_date - dt.timedelta(days=history_days)


def build_features(
    warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date, history_days: int | None
) -> FeatureSummary:
    """Rebuild the run's rows of intermediate.int_customer_features.

    The caller holds the warehouse write lock in an open transaction: the daily aggregates the
    features read cannot change underneath.
    """
    params = {"run_id": run_id, "as_of_date": as_of_date, "history_start": history_start(as_of_date, history_days),
              "all_history": history_days is None}
    queries.execute(warehouse, "intermediate/int_customer_features__delete.sql", params)
    queries.execute(warehouse, "intermediate/int_customer_features__insert.sql", params)
    return summary(warehouse, run_id)


def analyze(warehouse: psycopg.Connection) -> None:
    """Fresh statistics for the new feature rows (outside any transaction)."""
    queries.execute(warehouse, "intermediate/analyze_customer_features.sql")


def summary(warehouse: psycopg.Connection, run_id: str) -> FeatureSummary:
    """How many customers of the run's snapshot are segmented, and how many left out."""
    (row,) = queries.fetch_all(warehouse, "intermediate/int_customer_features__summary.sql", {"run_id": run_id})
    return FeatureSummary(**row)


def load_features(
    warehouse: psycopg.Connection, run_id: str, sample_size: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """The run's segmentable customers (all, or a seeded sample of `sample_size`), indexed by customer_id."""
    frame = queries.fetch_frame(warehouse, "intermediate/int_customer_features__select.sql",
                                {"run_id": run_id, "sample_size": sample_size, "seed": seed})
    return frame.set_index("customer_id")
