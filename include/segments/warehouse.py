"""Warehouse structure and run bookkeeping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from segments import queries

# Applied in order on every run; each file is idempotent.
SETUP_FILES = (
    "setup/warehouse_schema.sql",
    "staging/stg_invoice_lines.sql",
    "published/comments.sql",
    "published/views.sql",
    "setup/analyst_grants.sql",
)


def ensure_schema(warehouse: psycopg.Connection) -> None:
    """Create or update every warehouse schema, table and view."""
    with warehouse.transaction():
        queries.execute(warehouse, "setup/lock_warehouse_writes.sql")
        for path in SETUP_FILES:
            queries.execute(warehouse, path)


def record_stage(
    warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date, stage: str, status: str, detail: dict
) -> None:
    """Remember how one stage of a run ended."""
    with warehouse.transaction():
        queries.execute(warehouse, "setup/run_attempt__upsert.sql", {
            "run_id": run_id, "as_of_date": as_of_date, "stage": stage, "status": status, "detail": Jsonb(detail),
        })


def record_report(warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date, path: Path) -> None:
    """Keep the report's path with the published run."""
    queries.execute(warehouse, "published/segmentation_runs__set_report_path.sql",
                    {"run_id": run_id, "as_of_date": as_of_date, "report_path": str(path)})


def stage_seconds(warehouse: psycopg.Connection, run_id: str) -> dict[str, float]:
    """Seconds per successful stage of a run."""
    (row,) = queries.fetch_all(warehouse, "setup/run_attempt__stage_seconds.sql", {"run_id": run_id})
    return row["stage_seconds"]


def current_snapshot(warehouse: psycopg.Connection) -> dict | None:
    """The latest published snapshot, or None before the first publish."""
    rows = queries.fetch_all(warehouse, "published/current_snapshot.sql")
    return rows[0] if rows else None
