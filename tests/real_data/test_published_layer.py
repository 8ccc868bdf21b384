"""The published layer as analysts' BI tools see it: documented, queryable, and read-only."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from conftest import fresh_database, restore_real_source
from pipeline_helpers import run_stages
from segments import db
from segments.tools import server
from segments.settings import SQL_DIR

ANALYST_QUERIES = sorted((SQL_DIR / "analyst").glob("*.sql"))
HISTORY_SOURCE = "test_published_source"
HISTORY_WAREHOUSE = "test_published_warehouse"


@pytest.fixture(scope="module")
def published_history(real_source_dump):
    """Ten nightly snapshots of the real data, 2011-12-01 to 2011-12-10, built once for the module."""
    with db.connect_url(fresh_database(HISTORY_SOURCE)) as source, \
            db.connect_url(fresh_database(HISTORY_WAREHOUSE)) as warehouse:
        restore_real_source(source, real_source_dump)
        for day in range(1, 11):
            run_stages(source, warehouse, dt.date(2011, 12, day))
    return HISTORY_WAREHOUSE


def analyst(database: str) -> psycopg.Connection:
    return psycopg.connect(server.analyst_url(database), autocommit=True)


def test_every_published_table_view_and_column_has_a_comment(warehouse):
    from segments.pipeline import warehouse as warehouse_setup

    warehouse_setup.ensure_schema(warehouse)
    relations = warehouse.execute(
        "select relname, relkind, obj_description(oid, 'pg_class') from pg_class "
        "where relnamespace = 'segments'::regnamespace and relkind in ('r', 'v')"
    ).fetchall()
    assert {kind for _, kind, _ in relations} == {"r", "v"}
    assert [name for name, _, comment in relations if not comment] == []
    undocumented = warehouse.execute(
        "select relname || '.' || attname from pg_class join pg_attribute on attrelid = pg_class.oid "
        "where relnamespace = 'segments'::regnamespace and relkind in ('r', 'v') and attnum > 0 "
        "and not attisdropped and col_description(pg_class.oid, attnum) is null"
    ).fetchall()
    assert undocumented == []


@pytest.mark.real_data
@pytest.mark.parametrize("query", ANALYST_QUERIES, ids=[path.stem for path in ANALYST_QUERIES])
def test_example_query_returns_rows_as_the_read_only_role(published_history, query):
    with analyst(HISTORY_WAREHOUSE) as conn:
        rows = conn.execute(query.read_text()).fetchall()
    assert rows, f"{query.name} returned no rows on the real data"


@pytest.mark.real_data
def test_read_only_role_cannot_write_or_read_beyond_the_published_schema(published_history):
    with analyst(HISTORY_WAREHOUSE) as conn:
        assert conn.execute("select count(*) from segments.customer_segments_current").fetchone()[0] > 4_000
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into segments.segment_profiles_current select * from segments.segment_profiles_current")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from segments.customer_segments")
        for table in ("raw.invoice_lines", "staging.stg_invoice_lines", "intermediate.int_customer_features",
                      "internal.segment_models"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select * from {table} limit 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table segments.mine (id int)")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        analyst(HISTORY_SOURCE)


@pytest.mark.real_data
def test_customer_history_view_shows_each_move(published_history):
    with analyst(HISTORY_WAREHOUSE) as conn:
        moves = conn.execute(
            "select count(*) from segments.customer_segment_history where changed_segment").fetchone()[0]
        logged = conn.execute(
            "select sum(customers) from segments.segment_migrations "
            "where from_segment_name not like '(%' and to_segment_name not like '(%' "
            "and from_segment_name <> to_segment_name").fetchone()[0]
    assert moves > 0 and moves >= logged
