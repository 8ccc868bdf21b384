"""Faults a nightly run must survive: its process killed inside every stage, the database restarted under it.

Every run here is a real `segments run` process (Airflow's `dag.test()`), on a copy of one
prepared warehouse that already publishes the snapshots before the date. To stop it at a known
point, the test holds a real lock on the first table the stage writes inside its transaction,
waits until the run's session waits for that lock, and only then strikes. Afterwards the
published tables must hold exactly what they held before (nothing of the new snapshot), and a
rerun must publish exactly what an uninterrupted run publishes on a fresh copy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import TEST_SOURCE, TEST_WAREHOUSE, fresh_database, restore_real_source
from pipeline_helpers import run_stages, snapshot_rows
from segments import db
from segments.tools import runner, server
from segments.pipeline.stages import SEQUENCE

pytestmark = pytest.mark.real_data

AS_OF = dt.date(2011, 12, 10)
PUBLISHED_BEFORE = (dt.date(2011, 12, 8), dt.date(2011, 12, 9))
PREPARED_WAREHOUSE = "test_faults_prepared_warehouse"
REFERENCE_WAREHOUSE = "test_faults_reference_warehouse"
PUBLISHED_TABLES = ("customer_segments", "segment_profiles", "segment_definitions", "segmentation_runs", "line_accounting",
                    "segment_migrations")
# The first table each stage writes inside its transaction, which no earlier stage locks against
# a writer. Publish's tables are commented on by the schema setup of the extract, so the run is
# first held in training, and the publish lock taken only then.
STAGE_STOPS = {
    "extract": ("internal.extracted_days",),
    "aggregates": ("intermediate.int_customer_daily",),
    "features": ("intermediate.int_customer_features",),
    "training": ("internal.customer_assignments",),
    "publish": ("internal.customer_assignments", "segments.segment_migrations"),
}
# Past publish's commit: the stage waits to record its success.
PUBLISH_COMMITTED_STOPS = (*STAGE_STOPS["publish"], "internal.run_attempts")
WAIT_SECONDS = 180


@pytest.fixture(scope="module")
def prepared(real_source_dump):
    """The source, a warehouse publishing the snapshots before AS_OF, and AS_OF as an uninterrupted run publishes it."""
    with db.connect_url(fresh_database(TEST_SOURCE)) as source:
        restore_real_source(source, real_source_dump)
        with db.connect_url(fresh_database(PREPARED_WAREHOUSE)) as warehouse:
            for day in PUBLISHED_BEFORE:
                run_stages(source, warehouse, day)
            published_before = published_state(warehouse)
        copy_database(PREPARED_WAREHOUSE, REFERENCE_WAREHOUSE)
        with db.connect_url(server.url(REFERENCE_WAREHOUSE)) as reference:
            run_stages(source, reference, AS_OF)
            expected = snapshot_rows(reference, AS_OF)
    yield {"published_before": published_before, "expected": expected}
    for name in (PREPARED_WAREHOUSE, REFERENCE_WAREHOUSE):
        server.drop_database(name)


@pytest.fixture
def warehouse(prepared) -> psycopg.Connection:
    """The test warehouse, a fresh copy of the prepared one; runs use it through their connection."""
    copy_database(PREPARED_WAREHOUSE, TEST_WAREHOUSE)
    with db.connect_url(server.url(TEST_WAREHOUSE)) as conn:
        yield conn


def copy_database(template: str, name: str) -> None:
    server.drop_database(name)
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template)))


def published_state(warehouse: psycopg.Connection, except_date: dt.date | None = None) -> dict[str, list[str]]:
    """Every row of every published table, every column included, for every date (but `except_date`)."""
    query = "select published::text from segments.{} as published where as_of_date is distinct from %s order by 1"
    return {
        table: [row for (row,) in warehouse.execute(
            sql.SQL(query).format(sql.Identifier(table)), (except_date,)).fetchall()]
        for table in PUBLISHED_TABLES
    }


def start_run(log: Path, *options: str) -> subprocess.Popen:
    """`segments run` for AS_OF in a process of its own, on the test databases (named in the environment)."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "segments.tools.cli", "run", "--as-of", AS_OF.isoformat(), *options],
            env=dict(os.environ), stdout=output, stderr=subprocess.STDOUT,
        )


def hold_write_lock(table: str) -> psycopg.Connection:
    """A session of the test holding a lock on `table` that stops writers and lets readers pass."""
    conn = psycopg.connect(server.url(TEST_WAREHOUSE))
    conn.execute(sql.SQL("lock table {} in exclusive mode").format(sql.Identifier(*table.split("."))))
    return conn


def wait_until_blocked_on(warehouse: psycopg.Connection, table: str, run: subprocess.Popen, log: Path) -> int:
    """Wait until a session of the run waits for the lock on `table`; return its backend's pid."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        # pg_locks spans the server, and databases copied from one template share relation oids.
        waiting = warehouse.execute(
            "select pid from pg_locks where not granted and relation = %s::regclass "
            "and database = (select oid from pg_database where datname = current_database())", (table,)).fetchall()
        if waiting:
            return waiting[0][0]
        if run.poll() is not None:
            pytest.fail(f"The run ended ({run.returncode}) before reaching {table}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"The run did not reach {table} within {WAIT_SECONDS} s:\n{log.read_text()[-3000:]}")


def stop_at(tables: tuple[str, ...], warehouse: psycopg.Connection, run: subprocess.Popen, log: Path) -> psycopg.Connection:
    """Hold the run at its write to the last of `tables`, letting it through each before; return the holding session."""
    holder = None
    for table in tables:
        previous, holder = holder, hold_write_lock(table)
        if previous is not None:
            previous.close()
        wait_until_blocked_on(warehouse, table, run, log)
    return holder


def stop_inside(stage: str, warehouse: psycopg.Connection, run: subprocess.Popen, log: Path) -> psycopg.Connection:
    """Hold the run inside `stage`, past every stage before it; return the holding session."""
    holder = stop_at(STAGE_STOPS[stage], warehouse, run, log)
    assert recorded_stages(warehouse) == list(SEQUENCE[:SEQUENCE.index(stage)]), f"not inside {stage}"
    return holder


def recorded_stages(warehouse: psycopg.Connection) -> list[str]:
    """The stages the run of AS_OF recorded as successful, in order."""
    return [stage for (stage,) in warehouse.execute(
        "select stage from internal.run_attempts where as_of_date = %s and status = 'success' order by recorded_at",
        (AS_OF,)).fetchall()]


def wait_until_sessions_end(warehouse: psycopg.Connection, pids: list[int]) -> None:
    """Wait until the killed run's server sessions have noticed and ended (rolling back what they held)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while warehouse.execute("select count(*) from pg_stat_activity where pid = any(%s)", (pids,)).fetchone()[0]:
        assert time.monotonic() < deadline, "the killed run's sessions never ended"
        time.sleep(0.2)


def run_sessions(warehouse: psycopg.Connection) -> list[int]:
    """Server sessions of the test warehouse other than the test's own."""
    return [pid for (pid,) in warehouse.execute(
        "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()").fetchall()]


def assert_rerun_publishes_the_uninterrupted_snapshot(warehouse: psycopg.Connection, prepared: dict) -> None:
    assert runner.run(AS_OF) == "success"
    assert snapshot_rows(warehouse, AS_OF) == prepared["expected"]
    assert published_state(warehouse, except_date=AS_OF) == prepared["published_before"], "earlier snapshots changed"


@pytest.mark.parametrize("stage", list(STAGE_STOPS))
def test_a_run_killed_inside_a_stage_publishes_nothing_and_its_rerun_everything(stage, warehouse, prepared, tmp_path):
    log = tmp_path / "run.log"
    run = start_run(log)
    holder = stop_inside(stage, warehouse, run, log)
    sessions = [pid for pid in run_sessions(warehouse) if pid != holder.info.backend_pid]
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    holder.close()
    wait_until_sessions_end(warehouse, sessions)
    assert published_state(warehouse) == prepared["published_before"]
    assert_rerun_publishes_the_uninterrupted_snapshot(warehouse, prepared)


def test_a_full_refresh_killed_after_dropping_the_pair_index_and_key_leaves_them_and_the_rerun_publishes(warehouse, prepared, tmp_path):
    # A full refresh rewrites every day: the aggregates drop the product days' pair index and
    # primary key, write them and build both again. Held at the next model's write, the run is past the drop.
    log = tmp_path / "run.log"
    run = start_run(log, "--full-refresh")
    holder = stop_at(("intermediate.int_customer_new_products_daily",), warehouse, run, log)
    assert recorded_stages(warehouse) == ["extract"], "not inside aggregates"
    sessions = [pid for pid in run_sessions(warehouse) if pid != holder.info.backend_pid]
    held = warehouse.execute("select mode from pg_locks where granted and pid = any(%s) "
                             "and relation = 'intermediate.int_customer_product_days'::regclass", (sessions,)).fetchall()
    assert ("AccessExclusiveLock",) in held, "the run dropped the pair index"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    holder.close()
    wait_until_sessions_end(warehouse, sessions)
    indexes = warehouse.execute("select to_regclass('intermediate.int_customer_product_days_pair_idx'), "
                                "to_regclass('intermediate.int_customer_product_days_pkey')").fetchone()
    assert None not in indexes, "the drops of the pair index and the primary key rolled back with the killed run"
    assert published_state(warehouse) == prepared["published_before"]
    assert_rerun_publishes_the_uninterrupted_snapshot(warehouse, prepared)


@contextlib.contextmanager
def refusing_connections(database: str) -> Iterator[None]:
    """The server refuses new sessions to `database` (as while it restarts) until the block ends."""
    def allow_connections(allowed: bool) -> None:
        with db.connect_url(server.url("postgres")) as admin:
            admin.execute(sql.SQL("alter database {} with allow_connections {}").format(
                sql.Identifier(database), sql.Literal(allowed)))

    allow_connections(False)
    try:
        yield
    finally:
        allow_connections(True)


def restart_server() -> None:
    """Restart PostgreSQL (fast shutdown: every session ends, open transactions roll back); Airflow's metadata too."""
    server.stop()
    server.start()


def restart_server_after_the_run(warehouse: psycopg.Connection, holder: psycopg.Connection) -> None:
    """Restart PostgreSQL, ending the held run's sessions before the lock holder's.

    A shutdown ends sessions one by one: a run session ended after the holder could take the
    freed lock and commit first. Until the restart is over, the run's reconnections are refused,
    as by a restarting server.
    """
    with refusing_connections(TEST_WAREHOUSE):
        sessions = [pid for pid in run_sessions(warehouse) if pid != holder.info.backend_pid]
        warehouse.execute("select pg_terminate_backend(pid) from unnest(%s::int[]) as pid", (sessions,))
        wait_until_sessions_end(warehouse, sessions)
        restart_server()
    holder.close()


def test_a_database_restart_mid_run_ends_it_failed_with_its_summary_and_the_rerun_publishes(warehouse, prepared, tmp_path):
    log = tmp_path / "run.log"
    run = start_run(log)
    holder = stop_inside("features", warehouse, run, log)
    restart_server()
    holder.close()
    assert run.wait(timeout=WAIT_SECONDS) == 1
    output = log.read_text()
    assert "Customer segmentation for 2011-12-10 failed in task features: The warehouse connection broke" in output
    assert "Analysts still see snapshot 2011-12-09" in output, "the summary asks the warehouse once it is back"
    assert "The run for 2011-12-10 ended failed" in output
    assert "sqlalchemy.exc" not in output, "Airflow's bookkeeping waited for its database"
    with db.connect_url(server.url(TEST_WAREHOUSE)) as after_restart:
        assert published_state(after_restart) == prepared["published_before"]
        assert_rerun_publishes_the_uninterrupted_snapshot(after_restart, prepared)


def test_a_database_restart_after_publish_committed_does_not_fail_the_run(warehouse, prepared, tmp_path):
    log = tmp_path / "run.log"
    run = start_run(log)
    holder = stop_at(PUBLISH_COMMITTED_STOPS, warehouse, run, log)
    restart_server_after_the_run(warehouse, holder)
    assert run.wait(timeout=WAIT_SECONDS) == 0, log.read_text()[-3000:]
    output = log.read_text()
    assert "was published by this run before the warehouse connection broke" in output, output
    with db.connect_url(server.url(TEST_WAREHOUSE)) as after_restart:
        assert snapshot_rows(after_restart, AS_OF) == prepared["expected"]
        assert published_state(after_restart, except_date=AS_OF) == prepared["published_before"]
        assert recorded_stages(after_restart)[-2:] == ["publish", "report"]
