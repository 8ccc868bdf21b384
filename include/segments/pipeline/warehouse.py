"""Warehouse structure and run bookkeeping."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from segments import queries
from segments.errors import InvalidParameterError, LockTimeoutError
from segments.settings import Settings

log = logging.getLogger(__name__)

# Applied in order whenever the warehouse's setup differs from this release's (their fingerprint);
# each file is idempotent. The layers, one schema each: raw (lines as extracted) -> staging (views:
# rename, cast) -> intermediate (incremental models) -> internal (model state) -> segments (the
# published contract analysts query).
SETUP_FILES = (
    "raw/tables.sql",
    "staging/stg_invoice_lines.sql",
    "intermediate/tables.sql",
    "intermediate/int_customer_product_days__pair_index.sql",
    "internal/tables.sql",
    "segments/tables.sql",
    "segments/comments.sql",
    "segments/views.sql",
)


def setup_fingerprint(settings: Settings) -> str:
    """What the setup would make of the warehouse: its files' statements and the currency the
    money columns' comments name."""
    digest = hashlib.sha256(settings.currency.encode())
    for path in (*SETUP_FILES, "segments/comments__currency.sql"):
        for statement in queries.statements(path):
            digest.update(statement.encode())
    return digest.hexdigest()


def ensure_schema(warehouse: psycopg.Connection, settings: Settings | None = None) -> None:
    """Create or update every warehouse schema, table and view unless the warehouse already has
    this release's setup; keep the settings the views read and the analysts' grants.

    A night that changes nothing takes no table lock here: neither an analyst's open transaction
    on a published table nor autovacuum keeps it waiting.
    """
    settings = settings or Settings()
    fingerprint = setup_fingerprint(settings)
    with warehouse.transaction():
        lock_shared_models(warehouse, "setup", "schema", settings.lock_timeout_seconds)
        queries.execute(warehouse, "internal/warehouse_setups__create.sql")
        applied = queries.fetch_all(warehouse, "internal/warehouse_setups__latest.sql")
        changed = applied != [{"fingerprint": fingerprint}]
        if changed:
            _apply_setup(warehouse, settings)
        queries.execute(warehouse, "internal/warehouse_settings__upsert.sql", {
            "business_timezone": settings.timezone, "report_page_url": settings.report_page_url,
            "currency": settings.currency,
        })
        if changed:
            queries.execute(warehouse, "segments/comments__currency.sql")
            queries.execute(warehouse, "internal/warehouse_setups__insert.sql", {"fingerprint": fingerprint})
            log.info("Applied this release's warehouse setup (fingerprint %s).", fingerprint[:12])
        # Every run: the role may have been created since (a GRANT locks no table).
        queries.execute(warehouse, "segments/analyst_grants.sql")
    distribute(warehouse, settings)


def _apply_setup(warehouse: psycopg.Connection, settings: Settings) -> None:
    """Run the setup files; a lock they wait for longer than the lock timeout names its holders."""
    try:
        with warehouse.transaction():
            for path in SETUP_FILES:
                queries.execute(warehouse, path)
    except psycopg.errors.LockNotAvailable:
        holders = queries.fetch_all(warehouse, "internal/warehouse_table_lock_holders.sql")
        held_by = "; ".join(
            f"{row['user_name']} (pid {row['pid']}, {row['application_name'] or 'no application name'}, "
            f"{row['state']}, in its transaction for {row['in_transaction_for']}) on {row['relation_names']}"
            for row in holders) or "sessions that have ended since"
        raise LockTimeoutError(
            f"This release changes the warehouse's tables, and applying that waited {settings.lock_timeout_seconds} s "
            f"(SEGMENTS_LOCK_TIMEOUT_SECONDS) for locks held by {held_by}. Nothing was changed. Ask them to end "
            "their transaction (or end it for them: select pg_terminate_backend(pid)), then retry."
        ) from None


# The table every per-customer table is co-located with on Citus (the first distributed).
COLOCATION_ANCHOR = "intermediate.int_customer_daily"


def runs_on_citus(warehouse: psycopg.Connection) -> bool:
    """Whether the warehouse is a Citus coordinator (read from the warehouse itself)."""
    (engine,) = queries.fetch_all(warehouse, "internal/citus__installed.sql")
    return engine["citus"]


def distribute(warehouse: psycopg.Connection, settings: Settings) -> list[str]:
    """On a Citus warehouse, give every table its place (internal/citus__layout.sql): with where
    analyze_when_stale reads the statistics, the only difference a distributed warehouse makes.
    Returns the tables converted (none once done, and none on a plain PostgreSQL); converting an
    existing warehouse moves its rows into the shards."""
    with warehouse.transaction():
        pending = queries.fetch_all(warehouse, "internal/citus__layout.sql") if runs_on_citus(warehouse) else []
    if pending and warehouse.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("Distributing the warehouse commits table by table: call it outside any transaction.")
    converted = []
    for table in pending:
        with warehouse.transaction():
            lock_shared_models(warehouse, "setup", "distribute", settings.lock_timeout_seconds)
            anchor = "default" if table["table_name"] == COLOCATION_ANCHOR else COLOCATION_ANCHOR
            queries.execute(warehouse, "internal/citus__convert_table.sql", {**table, "colocate_with": anchor})
        converted.append(table["table_name"])
    return converted


# A table's statistics are taken again after a run wrote rows to it only when those rows are more
# than this share of the rows the statistics count: autovacuum's own threshold
# (autovacuum_analyze_scale_factor). Below it the planner's picture still holds (a new run's rows
# are estimated as an average run's, a rebuilt day as an average day's), and an ANALYZE of a table
# that keeps every snapshot's or day's rows reads its 30,000-row sample from all over it: after
# 180 published nights of 80,000 customers, the three per-run tables' took 1.3 s of a 3.9 s night,
# 0.1 s on a fresh warehouse.
STATISTICS_STALE_SHARE = 0.1


def analyze_when_stale(warehouse: psycopg.Connection, analyze_file: str, table: str, rows_written: int) -> None:
    """Run `analyze_file` (which analyses `table`) unless the `rows_written` rows are at most
    STATISTICS_STALE_SHARE of the rows its statistics count (on Citus, its shards' statistics)."""
    planned_rows_file = "internal/citus__planned_rows.sql" if runs_on_citus(warehouse) else "internal/planned_rows.sql"
    (statistics,) = queries.fetch_all(warehouse, planned_rows_file, {"table": table})
    if statistics["planned_rows"] < 0 or rows_written > STATISTICS_STALE_SHARE * statistics["planned_rows"]:
        queries.execute(warehouse, analyze_file)


def abandoned_runs(warehouse: psycopg.Connection) -> list[str]:
    """Runs stopped long ago without a published snapshot, whose per-run rows may go."""
    return [row["run_id"] for row in queries.fetch_all(warehouse, "internal/abandoned_runs.sql")]


def use_work_mem(warehouse: psycopg.Connection, work_mem: str) -> None:
    """Give the current transaction's sorts and hashes `work_mem` (a PostgreSQL size such as '512MB')."""
    try:
        queries.execute(warehouse, "internal/set_work_mem.sql", {"work_mem": work_mem})
    except psycopg.errors.InvalidParameterValue as error:
        raise InvalidParameterError(
            f"SEGMENTS_WORK_MEM={work_mem!r} is not a memory size PostgreSQL accepts ({error.diag.message_primary}); "
            "set it to a size such as 512MB or 2GB, or unset it for the default."
        ) from None


def lock_shared_models(
    warehouse: psycopg.Connection, run_id: str, stage: str, timeout_seconds: int
) -> None:
    """Take the warehouse write lock for the current transaction, waiting at most `timeout_seconds`.

    Raw lines, the daily aggregates and the schema are shared by every run: whoever rewrites them
    holds this lock until its transaction ends. On timeout the error names the run holding it.
    """
    if warehouse.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("lock_shared_models must be called inside a transaction: the lock ends with it.")
    params = {"holder": f"segments {run_id} {stage}"[:63], "lock_timeout": f"{int(timeout_seconds * 1000)}ms"}
    try:
        with warehouse.transaction():
            queries.execute(warehouse, "internal/lock_warehouse_writes.sql", params)
    except psycopg.errors.LockNotAvailable:
        holders = queries.fetch_all(warehouse, "internal/warehouse_lock_holder.sql")
        held_by = ", ".join(f"{row['holder'] or 'an unnamed session'} (pid {row['pid']}, for {row['held_for']})"
                            for row in holders) or "a session that has just released it"
        raise LockTimeoutError(
            f"Run {run_id} waited {timeout_seconds} s in stage {stage} for the warehouse write lock, held by "
            f"{held_by}. Nothing was changed by this stage. Wait for that run to finish (or stop it if it hangs), "
            "then retry."
        ) from None


def record_stage(
    warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date, stage: str, status: str, detail: dict
) -> None:
    """Remember how one stage of a run ended."""
    with warehouse.transaction():
        queries.execute(warehouse, "internal/run_attempt__upsert.sql", {
            "run_id": run_id, "as_of_date": as_of_date, "stage": stage, "status": status, "detail": Jsonb(detail),
        })


def record_report(warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date, path: Path) -> None:
    """Keep the report's path with the published run."""
    queries.execute(warehouse, "segments/segmentation_runs__set_report_path.sql",
                    {"run_id": run_id, "as_of_date": as_of_date, "report_path": str(path)})


def stage_seconds(warehouse: psycopg.Connection, run_id: str) -> dict[str, float]:
    """Seconds per successful stage of a run."""
    (row,) = queries.fetch_all(warehouse, "internal/run_attempt__stage_seconds.sql", {"run_id": run_id})
    return row["stage_seconds"]


def current_snapshot(warehouse: psycopg.Connection) -> dict | None:
    """The latest published snapshot, or None before the first publish."""
    rows = queries.fetch_all(warehouse, "segments/current_snapshot.sql")
    return rows[0] if rows else None
