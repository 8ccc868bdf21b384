"""Atomic publish: one transaction replaces a snapshot in every published table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from segments import queries
from segments.pipeline import warehouse as warehouse_state
from segments.pipeline.extract import ExtractWindow
from segments.pipeline.features import FeatureSummary

# After the customers' rows (and their statistics), in dependency order: profiles and migrations
# read the customer rows written before them, the run record reads the line accounting.
# Each published table's (delete, insert) pair, in publishing order.
TABLES_AFTER_THE_CUSTOMERS = (
    ("segments/segment_profiles__delete.sql", "segments/segment_profiles__insert.sql"),
    ("segments/segment_definitions__delete.sql", "segments/segment_definitions__insert.sql"),
    ("segments/segment_migrations__delete.sql", "segments/segment_migrations__insert.sql"),
    ("segments/line_accounting__delete.sql", "segments/line_accounting__insert.sql"),
)


@dataclass(frozen=True)
class ExtractFacts:
    """What the run's extract found, for the run record."""

    window: ExtractWindow
    changed_days_reextracted: int
    source_lines_dated_after_run: int


def is_published(warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date) -> bool:
    """Whether the run's current model is already the published snapshot of `as_of_date`."""
    (row,) = queries.fetch_all(warehouse, "segments/run_model_is_published.sql",
                               {"run_id": run_id, "as_of_date": as_of_date})
    return row["is_published"]


def publish(
    warehouse: psycopg.Connection,
    run_id: str,
    as_of_date: dt.date,
    extracted: ExtractFacts,
    customers: FeatureSummary,
    stage_seconds: dict[str, float],
) -> None:
    """Replace snapshot `as_of_date` with the run's model, all or nothing."""
    params = {
        "run_id": run_id,
        "as_of_date": as_of_date,
        **extracted.window.params(),
        "changed_days_reextracted": extracted.changed_days_reextracted,
        "source_lines_dated_after_run": extracted.source_lines_dated_after_run,
        "customers_segmented": customers.customers_segmented,
        "customers_excluded": customers.customers_excluded,
        "stage_seconds": Jsonb(stage_seconds),
    }
    with warehouse.transaction():
        (model,) = queries.fetch_all(warehouse, "internal/segment_model__predecessor.sql", params)
        params["previous_as_of_date"] = model["predecessor_as_of_date"]
        queries.execute(warehouse, "segments/customer_segments__delete.sql", params)
        queries.execute(warehouse, "segments/customer_segments__insert.sql", params)
        warehouse_state.analyze_when_stale(warehouse, "segments/analyze_customer_segments.sql",
                                           "segments.customer_segments", customers.customers_segmented)
        for delete_file, insert_file in TABLES_AFTER_THE_CUSTOMERS:
            queries.execute(warehouse, delete_file, params)
            queries.execute(warehouse, insert_file, params)
        (written,) = queries.fetch_all(warehouse, "segments/customer_segments__count.sql", params)
        if written["customers"] != customers.customers_segmented:
            # The run's features or assignments went missing underneath it: publish nothing.
            raise RuntimeError(
                f"Publishing {as_of_date} would write {written['customers']:,} customers, but run {run_id} segmented "
                f"{customers.customers_segmented:,}; nothing was published. Rerun the date."
            )
        queries.execute(warehouse, "segments/segmentation_runs__upsert.sql", params)
