"""The published layer as analysts' BI tools see it: documented, queryable, and read-only."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from conftest import HISTORY_SOURCE, HISTORY_WAREHOUSE
from segments.tools import server
from segments.settings import SQL_DIR

ANALYST_QUERIES = sorted((SQL_DIR / "analyst").glob("*.sql"))


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
def test_what_a_bi_tool_sees_as_the_read_only_role_is_documented_flat_and_states_its_grain(published_history):
    """Reflect the schema as BI tools do (SQLAlchemy's inspector, as the analyst role)."""
    import sqlalchemy
    from sqlalchemy.dialects import postgresql

    engine = sqlalchemy.create_engine(server.analyst_url(HISTORY_WAREHOUSE).replace("postgresql://", "postgresql+psycopg://"))
    try:
        inspector = sqlalchemy.inspect(engine)
        tables = inspector.get_table_names(schema="segments")
        views = inspector.get_view_names(schema="segments")
        assert {"customer_segments", "segment_definitions", "segment_migrations"} <= set(tables)
        assert {"segment_definitions_current", "published_snapshots", "customer_segments_current"} <= set(views)
        undocumented, nested, ungrained = [], [], []
        for name in [*tables, *views]:
            comment = inspector.get_table_comment(name, schema="segments")["text"]
            if not comment:
                undocumented.append(name)
            if name in views and not (comment or "").startswith("Grain: one row per "):
                ungrained.append(name)
            for column in inspector.get_columns(name, schema="segments"):
                if not column.get("comment"):
                    undocumented.append(f"{name}.{column['name']}")
                if name in views and isinstance(column["type"], (postgresql.JSONB, postgresql.JSON, sqlalchemy.ARRAY)):
                    nested.append(f"{name}.{column['name']}")
        assert undocumented == [], "every table, view and column has a comment"
        assert nested == [], "analyst views expose no jsonb or array columns"
        assert ungrained == [], "every view states its grain"
        with engine.connect() as conn:
            definitions = conn.execute(sqlalchemy.text(
                "select value_rank, segment_name, recommended_action from segments.segment_definitions_current "
                "order by value_rank")).all()
            snapshot = conn.execute(sqlalchemy.text(
                "select as_of_date, segments, report_url from segments.published_snapshots where is_current")).one()
    finally:
        engine.dispose()
    assert [rank for rank, _, _ in definitions] == [1, 2, 3]
    assert [name for _, name, _ in definitions] == ["VIP Premium", "Core Regular", "Entry-Level"]
    assert snapshot == (dt.date(2011, 12, 10), 3, "http://localhost:8080/segments/?as_of=2011-12-10")


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


@pytest.mark.real_data
def test_an_audience_export_writes_the_segments_customers_as_the_read_only_role(published_history, tmp_path,
                                                                               monkeypatch, capsys):
    import csv

    import pyarrow.parquet as pq

    from segments.tools import cli

    monkeypatch.setenv("SEGMENTS_ANALYST_URL", server.analyst_url(HISTORY_WAREHOUSE))
    with analyst(HISTORY_WAREHOUSE) as conn:
        vips, everyone = conn.execute(
            "select count(*) filter (where segment_name = 'VIP Premium'), count(*) "
            "from segments.customer_segments where as_of_date = '2011-12-10'").fetchone()

    output = tmp_path / "vip.csv"
    assert cli.main(["export", "--as-of", "2011-12-10", "--segment", "VIP Premium", "--format", "csv",
                     "--output", str(output)]) == 0
    assert f"{vips:,} customers of snapshot 2011-12-10 written to {output} (csv)." in capsys.readouterr().out
    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == vips > 100
    assert {row["segment_name"] for row in rows} == {"VIP Premium"} and rows[0]["recommended_action"]
    assert rows[0]["country"] and rows[0]["first_purchase_date"] <= rows[0]["last_purchase_date"] < "2011-12-10"
    assert float(rows[0]["monetary_revenue"]) >= float(rows[-1]["monetary_revenue"]), "the most valuable first"

    parquet = tmp_path / "all.parquet"
    assert cli.main(["export", "--as-of", "2011-12-10", "--format", "parquet", "--output", str(parquet)]) == 0
    table = pq.read_table(parquet)
    assert table.num_rows == everyone
    assert str(table.schema.field("monetary_revenue").type) == "double"
    assert str(table.schema.field("last_purchase_date").type) == "date32[day]"

    for arguments, says in (
        (["--as-of", "2011-12-10", "--segment", "VIP"], "has no segment named 'VIP'; its segments are 'VIP Premium'"),
        (["--as-of", "2011-12-25"], "Snapshot 2011-12-25 is not published"),
    ):
        refused = tmp_path / "refused.csv"
        assert cli.main(["export", *arguments, "--output", str(refused)]) == 1
        assert says in capsys.readouterr().err and not refused.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["all.parquet", "vip.csv"], "no partial file is left"
