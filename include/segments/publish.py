"""Atomic publish: one transaction replaces a snapshot in every published table."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.types.json import Jsonb

from segments import queries
from segments.extract import ExtractWindow
from segments.features import FeatureSummary

# In dependency order: profiles and migrations read the customer rows written before them,
# the run record reads the line accounting.
PUBLISHED_TABLES = (
    "customer_segments",
    "segment_profiles",
    "segment_migrations",
    "line_accounting",
)


def publish(
    warehouse: psycopg.Connection,
    run_id: str,
    as_of_date: dt.date,
    window: ExtractWindow,
    customers: FeatureSummary,
    stage_seconds: dict[str, float],
) -> None:
    """Replace snapshot `as_of_date` with the run's model, all or nothing."""
    params = {
        "run_id": run_id,
        "as_of_date": as_of_date,
        **window.params(),
        "customers_segmented": customers.customers_segmented,
        "customers_excluded": customers.customers_excluded,
        "stage_seconds": Jsonb(stage_seconds),
    }
    with warehouse.transaction():
        for table in PUBLISHED_TABLES:
            queries.execute(warehouse, f"published/{table}__delete.sql", params)
            queries.execute(warehouse, f"published/{table}__insert.sql", params)
        queries.execute(warehouse, "published/segmentation_runs__upsert.sql", params)
