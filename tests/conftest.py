"""Tests in four layers, one folder each: unit, pipeline, real_data and stack.

`tests/unit` holds pure functions on tiny frames: no database, no Airflow, no embedded server,
so `pytest tests/unit` (`make test-fast`) runs in seconds on a bare checkout. Every other layer
runs against a real PostgreSQL: the embedded server, with databases of its own, started once per
session by the `database` fixture the first time a test of those layers runs.

The environment is set before any module of those layers is imported (and so before Airflow is
imported anywhere), so `dag.test()` runs use the test databases through the same two Airflow
connections as production.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
import pytest

from segments import db

TESTS_DIR = Path(__file__).resolve().parent
UNIT_DIR = TESTS_DIR / "unit"
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail.csv.gz"
TEST_SOURCE = "test_retail_source"
TEST_WAREHOUSE = "test_segment_warehouse"

os.environ.setdefault("SEGMENTS_TASK_RETRIES", "0")
os.environ.setdefault("SEGMENTS_REPORTS_DIR", tempfile.mkdtemp(prefix="segments-test-reports-"))


def needs_database(path: Path) -> bool:
    """Every test outside tests/unit may use PostgreSQL (and Airflow, which keeps its metadata there)."""
    return UNIT_DIR not in Path(path).resolve().parents


_environment_ready = False


def configure_environment() -> None:
    """Point Airflow and both connections at the test databases; starts no server.

    What `local.configure()` would fill in, minus starting the server: the metadata database is
    the local server's, which the `database` fixture starts before the first test that needs it.
    """
    global _environment_ready
    if _environment_ready:
        return
    from segments.tools import local, server

    os.environ["AIRFLOW_CONN_RETAIL_SOURCE"] = server.url(TEST_SOURCE)
    os.environ["AIRFLOW_CONN_SEGMENT_WAREHOUSE"] = server.url(TEST_WAREHOUSE)
    for name, value in server.local_environment().items():
        os.environ.setdefault(name, value)
    local.configure()  # AIRFLOW_HOME, the dags and plugins folders; every database is set, so no start
    _environment_ready = True


def pytest_pycollect_makemodule(module_path, parent):
    """Set the environment before the first module of a database layer is imported."""
    if needs_database(module_path):
        configure_environment()


@pytest.fixture(scope="session", autouse=True)
def database(request) -> None:
    """The embedded PostgreSQL and Airflow's metadata in it, started lazily for the non-unit layers.

    Session-scoped and autouse, so it comes before any module-scoped fixture that reaches the
    server directly; a session of unit tests only never starts (or imports) the server.
    """
    if not any(needs_database(item.path) for item in request.session.items):
        return
    from segments.tools import local, server

    configure_environment()
    server.start()
    # Every test may run the DAG (`dag.test()` needs Airflow's tables), whichever file runs first.
    local.ensure_airflow_metadata()


def real_data_path() -> Path:
    """The UCI file from ../shared/data; a missing file fails under CI and skips elsewhere."""
    if not REAL_DATA.exists():
        message = f"the real UCI Online Retail file is missing at {REAL_DATA}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message + "; put it there to run this test")
    return REAL_DATA


def fresh_database(name: str) -> str:
    from segments.tools import server

    server.drop_database(name)
    server.create_database(name)
    return server.url(name)


@pytest.fixture
def source() -> psycopg.Connection:
    """An empty source database (the test source, recreated)."""
    with db.connect_url(fresh_database(TEST_SOURCE)) as conn:
        yield conn


@pytest.fixture
def warehouse() -> psycopg.Connection:
    """An empty warehouse database (the test warehouse, recreated)."""
    with db.connect_url(fresh_database(TEST_WAREHOUSE)) as conn:
        yield conn


@pytest.fixture(scope="session")
def real_data() -> Path:
    return real_data_path()


@pytest.fixture(scope="session")
def real_source_dump(real_data, tmp_path_factory) -> Path:
    """The real data loaded once, kept as COPY text so each test restores it in a second."""
    from segments.tools import load

    dump = tmp_path_factory.mktemp("real") / "invoice_lines.copy"
    with dump.open("w") as handle:
        for chunk in load.file_chunks(real_data):
            handle.write(chunk)
    return dump


def restore_real_source(conn: psycopg.Connection, dump: Path) -> None:
    """Fill a source database with the real data from its COPY dump."""
    from segments.tools import load

    def chunks():
        with dump.open() as handle:
            while block := handle.read(1 << 22):
                yield block
    load.copy_into_source(conn, chunks(), replace=True)


@pytest.fixture
def real_source(real_source_dump, source) -> psycopg.Connection:
    """The source database holding the real UCI data."""
    restore_real_source(source, real_source_dump)
    return source


HISTORY_SOURCE = "test_published_source"
HISTORY_WAREHOUSE = "test_published_warehouse"


@pytest.fixture(scope="session")
def published_history(real_source_dump):
    """Ten nightly snapshots of the real data, 2011-12-01 to 2011-12-10, built once for the session
    (the published layer's and the notebook's tests)."""
    import datetime as dt

    from pipeline_helpers import run_stages

    with db.connect_url(fresh_database(HISTORY_SOURCE)) as source, \
            db.connect_url(fresh_database(HISTORY_WAREHOUSE)) as warehouse:
        restore_real_source(source, real_source_dump)
        for day in range(1, 11):
            run_stages(source, warehouse, dt.date(2011, 12, day))
    return HISTORY_WAREHOUSE


@pytest.fixture
def citus_built() -> None:
    """Citus in the embedded PostgreSQL (`make citus`, which `make test` runs): fails under CI without it."""
    from segments.tools import citus

    if not citus.installed():
        message = "Citus is not built for the embedded PostgreSQL"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (`make test` builds it with `make citus`)")
        pytest.skip(message + ": run `make citus`")


@pytest.fixture
def distributed_warehouse(citus_built) -> psycopg.Connection:
    """The cluster's warehouse database, empty, on a running coordinator with two workers."""
    from segments.tools import cluster

    cluster.recreate_warehouse(2)
    with db.connect_url(cluster.warehouse_url()) as conn:
        yield conn
    cluster.stop()
