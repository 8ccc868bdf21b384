"""Every test runs against a real PostgreSQL: the embedded server, with databases of its own.

The environment is set before Airflow is imported anywhere, so `dag.test()` runs use the test
databases through the same two Airflow connections as production.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
import pytest

from segments import db
from segments.tools import load, local, server

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail.csv.gz"
TEST_SOURCE = "test_retail_source"
TEST_WAREHOUSE = "test_segment_warehouse"

server.start()
os.environ["AIRFLOW_CONN_RETAIL_SOURCE"] = server.url(TEST_SOURCE)
os.environ["AIRFLOW_CONN_SEGMENT_WAREHOUSE"] = server.url(TEST_WAREHOUSE)
os.environ.setdefault("SEGMENTS_TASK_RETRIES", "0")
os.environ.setdefault("SEGMENTS_REPORTS_DIR", tempfile.mkdtemp(prefix="segments-test-reports-"))
local.configure()
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
    dump = tmp_path_factory.mktemp("real") / "invoice_lines.copy"
    with dump.open("w") as handle:
        for chunk in load.file_chunks(real_data):
            handle.write(chunk)
    return dump


def restore_real_source(conn: psycopg.Connection, dump: Path) -> None:
    """Fill a source database with the real data from its COPY dump."""
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
