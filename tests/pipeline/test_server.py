"""The local server's setup: safe when several runs start at once or while it works, and no
password in its log."""

from __future__ import annotations

import os
import pwd
import secrets
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from conftest import TEST_WAREHOUSE
from segments import db
from segments.pipeline import warehouse
from segments.tools import server

SIMULTANEOUS_STARTS = 6
SCRATCH_DATABASE = "test_simultaneous_create"


@pytest.mark.usefixtures("warehouse")
def test_simultaneous_starts_and_warehouse_setups_all_succeed(monkeypatch):
    # A password the role does not have yet, so that every start wants to change it at once.
    monkeypatch.setenv("SEGMENTS_ANALYST_PASSWORD", secrets.token_urlsafe(16))
    server.drop_database(SCRATCH_DATABASE)
    all_ready = threading.Barrier(SIMULTANEOUS_STARTS)

    def start_and_set_up() -> None:
        all_ready.wait()
        server.start()
        server.create_database(SCRATCH_DATABASE)
        with db.connect_url(server.url(TEST_WAREHOUSE)) as conn:
            warehouse.ensure_schema(conn)

    with ThreadPoolExecutor(SIMULTANEOUS_STARTS) as pool:
        starts = [pool.submit(start_and_set_up) for _ in range(SIMULTANEOUS_STARTS)]
        failures = [repr(start.exception()) for start in starts if start.exception() is not None]

    assert not failures, failures
    with psycopg.connect(server.analyst_url(TEST_WAREHOUSE)) as analyst:
        assert analyst.execute("select count(*) from segments.segmentation_runs").fetchone() == (0,)
    server.drop_database(SCRATCH_DATABASE)


def test_the_analyst_password_never_reaches_the_server_log(monkeypatch):
    password = "known-analyst-password-" + secrets.token_hex(8)
    monkeypatch.setenv("SEGMENTS_ANALYST_PASSWORD", password)
    # Every role statement of the setup's sessions is logged, as a failing one would be.
    monkeypatch.setenv("PGOPTIONS", "-c log_statement=ddl")
    log_size_before = server.LOG_FILE.stat().st_size

    server.start()

    monkeypatch.delenv("PGOPTIONS")
    with server.LOG_FILE.open() as log_file:
        log_file.seek(log_size_before)
        log = log_file.read()
    assert "alter role" in log and "SCRAM-SHA-256$" in log
    assert password not in log
    with psycopg.connect(server.analyst_url("postgres")) as analyst:
        assert analyst.execute("select current_user").fetchone() == (server.ANALYST_ROLE,)
    log_status = server.LOG_FILE.stat()
    assert stat.S_IMODE(log_status.st_mode) == 0o600
    if os.geteuid() == 0:
        assert log_status.st_uid == pwd.getpwnam(server.SYSTEM_USER).pw_uid


@pytest.mark.skipif(os.geteuid() != 0, reason="the server's files change owner only when the commands run as root")
def test_db_start_succeeds_while_the_running_server_creates_and_deletes_files():
    # Every command starts the server; a running server creates and deletes files (sorts spilled
    # to disk, caches) all the time. Here a thread does so in a folder of the server's data (its
    # own: a temporary-file folder created by root would lock the server out of it).
    churned = server.MAIN.pgdata / "test_churn"
    churned.mkdir(exist_ok=True)
    stop_churning = threading.Event()

    def churn() -> None:
        while not stop_churning.is_set():
            for n in range(200):
                (churned / str(n)).touch()
            for n in range(200):
                (churned / str(n)).unlink()

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        starts = [subprocess.run([sys.executable, "-m", "segments.tools.cli", "db", "start"],
                                 capture_output=True, text=True, timeout=120) for _ in range(5)]
    finally:
        stop_churning.set()
        churner.join()
        churned.rmdir()
    assert [(start.returncode, start.stderr.strip()[-300:]) for start in starts] == [(0, "")] * 5
