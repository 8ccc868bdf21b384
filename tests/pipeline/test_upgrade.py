"""The warehouse's setup across releases: a warehouse from an earlier release gets what this one
adds, complete, on its next run; a night of the same release takes no table lock to set up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from conftest import fresh_database
from pipeline_helpers import run_stages
from segments import db
from segments.errors import LockTimeoutError
from segments.pipeline import warehouse as warehouse_setup
from segments.settings import Settings
from segments.tools import load, server

# What every release from before the setup's fingerprint left: no record of which setup it applied.
EARLIER_SETUP = "drop table internal.warehouse_setups"
# A lock wait that a test can afford, and that no setup statement needs on an idle server.
SHORT_LOCK_TIMEOUT = Settings(lock_timeout_seconds=2)

FEATURES = ("select customer_id, distinct_products, country, first_purchase_date, last_purchase_date "
            "from intermediate.int_customer_features where run_id = %s order by customer_id")


def line(invoice: int, day: dt.date, customer: str, stock_code: str, country: str) -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    return f"{invoice}\t{stock_code}\tITEM\t2\t{day} 10:00:00\t3.50\t{customer}\t{country}\n"


def upgraded_features(source, warehouse, lines: list[str], earlier_release: tuple[str, ...]) -> list[tuple]:
    """Run the lines to April 1st, turn the warehouse into what an earlier release left (the
    statements of `earlier_release`), run to April 25th: its features must equal those of a fresh
    warehouse run to that date. Returns them."""
    load.copy_into_source(source, ["".join(lines)], replace=True)
    run_stages(source, warehouse, dt.date(2011, 4, 1), publish=False)
    for statement in (EARLIER_SETUP, *earlier_release):
        warehouse.execute(statement)
    warehouse.commit()

    upgraded = run_stages(source, warehouse, dt.date(2011, 4, 25), publish=False)

    with db.connect_url(fresh_database("segments_test_upgrade_reference")) as reference:
        fresh = run_stages(source, reference, dt.date(2011, 4, 25), publish=False)
        expected = reference.execute(FEATURES, (fresh["snapshot"].run_id,)).fetchall()
    assert warehouse.execute(FEATURES, (upgraded["snapshot"].run_id,)).fetchall() == expected
    return expected


def test_a_warehouse_from_before_the_daily_models_computes_them_for_all_history(source, warehouse):
    first_day = dt.date(2011, 3, 1)
    lines = [
        line(500000 + n, first_day + dt.timedelta(days=n % 50), f"1000{n % 4}", f"2200{n % 7}",
             ("United Kingdom", "France", "Germany")[n % 3])
        for n in range(120)
    ]
    # Raw lines and the other models, without these two.
    expected = upgraded_features(source, warehouse, lines, (
        "drop table intermediate.int_customer_new_products_daily, intermediate.int_customer_country_daily",
    ))
    assert len(expected) == 4 and all(row[1] == 7 and row[2] for row in expected)


def test_a_warehouse_from_before_the_customer_key_re_extracts_its_lines_and_computes_the_same_features(source, warehouse):
    first_day = dt.date(2011, 3, 1)
    # A customer's id as a spreadsheet exports it ("10001.0") and as it is: one customer.
    lines = [
        line(500000 + n, first_day + dt.timedelta(days=n % 40), ("10001.0", "10001", " 10002 ", "10003")[n % 4],
             f"2200{n % 5}", "France")
        for n in range(80)
    ]
    # The lines as extracted, without customer_key.
    expected = upgraded_features(source, warehouse, lines, (
        "drop view staging.stg_invoice_lines", "alter table raw.invoice_lines drop column customer_key",
    ))
    assert [row[0] for row in expected] == ["10001", "10002", "10003"]
    keys = warehouse.execute("select customer_key, count(*) from raw.invoice_lines group by 1 order by 1").fetchall()
    assert keys == [("10001", 40), ("10002", 20), ("10003", 20)]


def test_a_warehouse_whose_lines_carry_their_extract_run_keeps_them_and_extracts_without_it(source, warehouse):
    first_day = dt.date(2011, 3, 1)
    lines = [line(500000 + n, first_day + dt.timedelta(days=n % 40), f"100{n % 6:02d}", f"2200{n % 5}", "France")
             for n in range(120)]
    # Each line with the run that extracted it (no default: that release's COPY wrote it), and a
    # view reading it, as the staging view of that release did.
    expected = upgraded_features(source, warehouse, lines, (
        "drop view staging.stg_invoice_lines",
        "alter table raw.invoice_lines add column extract_run_id text not null default 'an earlier run'",
        "alter table raw.invoice_lines alter column extract_run_id drop default",
        "create view staging.stg_invoice_lines as select invoice_no, extract_run_id from raw.invoice_lines",
    ))
    assert len(expected) == 6
    columns = [row[0] for row in warehouse.execute(
        "select attname from pg_attribute where attrelid = 'raw.invoice_lines'::regclass and attnum > 0 "
        "and not attisdropped")]
    assert "extract_run_id" not in columns
    assert "invoice_day" in [row[0] for row in warehouse.execute(
        "select attname from pg_attribute where attrelid = 'staging.stg_invoice_lines'::regclass")]


def test_a_warehouse_from_before_drops_the_assignments_foreign_key(source, warehouse):
    first_day = dt.date(2011, 3, 1)
    lines = [line(500000 + n, first_day + dt.timedelta(days=n % 40), f"100{n % 40:02d}", f"2200{n % 5}", "France")
             for n in range(400)]
    load.copy_into_source(source, ["".join(lines)], replace=True)
    run_stages(source, warehouse, dt.date(2011, 4, 1))
    # The key as the release before created it.
    warehouse.execute(EARLIER_SETUP)
    warehouse.execute("alter table internal.customer_assignments add constraint customer_assignments_run_id_fkey "
                      "foreign key (run_id) references internal.segment_models (run_id) on delete cascade")
    warehouse.commit()

    runs = [run_stages(source, warehouse, dt.date(2011, 4, 2)) for _ in range(2)]  # a night, and its rerun

    keys = warehouse.execute("select conname from pg_constraint "
                             "where conrelid = 'internal.customer_assignments'::regclass and contype = 'f'").fetchall()
    assert keys == []
    for run in runs:
        assigned = warehouse.execute("select count(*) from internal.customer_assignments where run_id = %s",
                                     (run["snapshot"].run_id,)).fetchone()[0]
        assert assigned == run["features"]["customers_segmented"] == 32  # those who bought before April 2nd


def published_first_night(source, warehouse) -> None:
    """Forty customers' lines of March 2011, published for April 1st."""
    lines = [line(500000 + n, dt.date(2011, 3, 1) + dt.timedelta(days=n % 30), f"100{n % 40:02d}", f"2200{n % 5}",
                  "France") for n in range(400)]
    load.copy_into_source(source, ["".join(lines)], replace=True)
    run_stages(source, warehouse, dt.date(2011, 4, 1))


@contextmanager
def analyst_in_a_transaction(warehouse) -> Iterator[None]:
    """A BI tool's session as the read-only role, left in the transaction in which it read every
    published table and view (as a tool without autocommit leaves it between two queries)."""
    with psycopg.connect(server.analyst_url(warehouse.info.dbname)) as analyst:
        names = analyst.execute("select relname from pg_class where relnamespace = 'segments'::regnamespace "
                                "and relkind in ('r', 'v') order by relname").fetchall()
        assert len(names) > 5
        for (name,) in names:
            analyst.execute(sql.SQL("select from {} limit 1").format(sql.Identifier("segments", name)))
        yield


def published_dates(warehouse) -> list[dt.date]:
    return [row[0] for row in warehouse.execute("select as_of_date from segments.segmentation_runs order by 1")]


def test_a_night_neither_waits_for_nor_blocks_an_analyst_in_a_transaction_on_the_published_tables(source, warehouse):
    published_first_night(source, warehouse)

    with analyst_in_a_transaction(warehouse):
        run_stages(source, warehouse, dt.date(2011, 4, 2), SHORT_LOCK_TIMEOUT)

    assert published_dates(warehouse) == [dt.date(2011, 4, 1), dt.date(2011, 4, 2)]
    # The setup was applied once, by the first run.
    assert warehouse.execute("select count(*) from internal.warehouse_setups").fetchone()[0] == 1


def test_a_release_that_changes_the_setup_waits_for_an_analyst_at_most_the_lock_timeout_and_names_them(
        source, warehouse):
    published_first_night(source, warehouse)
    warehouse.execute(EARLIER_SETUP)
    warehouse.commit()

    with analyst_in_a_transaction(warehouse), pytest.raises(LockTimeoutError) as refused:
        run_stages(source, warehouse, dt.date(2011, 4, 2), SHORT_LOCK_TIMEOUT)
    message = str(refused.value)
    assert "waited 2 s" in message and "SEGMENTS_LOCK_TIMEOUT_SECONDS" in message
    assert f"{server.ANALYST_ROLE} (pid " in message and "idle in transaction" in message
    assert "customer_segments" in message and "pg_terminate_backend" in message
    # Nothing changed: the earlier release's warehouse, its snapshot still the latest.
    assert warehouse.execute("select to_regclass('internal.warehouse_setups')").fetchone()[0] is None
    assert published_dates(warehouse) == [dt.date(2011, 4, 1)]

    # Once the analyst's transaction has ended, the same run applies the setup and publishes.
    run_stages(source, warehouse, dt.date(2011, 4, 2), SHORT_LOCK_TIMEOUT)
    assert published_dates(warehouse) == [dt.date(2011, 4, 1), dt.date(2011, 4, 2)]
    assert warehouse.execute("select fingerprint from internal.warehouse_setups").fetchall() == [
        (warehouse_setup.setup_fingerprint(Settings()),)]


def test_a_changed_currency_is_a_changed_setup_that_renames_the_money_columns_currency(source, warehouse):
    comment = "select col_description('segments.customer_segments'::regclass, attnum) from pg_attribute " \
              "where attrelid = 'segments.customer_segments'::regclass and attname = 'monetary_revenue'"
    published_first_night(source, warehouse)
    assert "in GBP:" in warehouse.execute(comment).fetchone()[0]

    run_stages(source, warehouse, dt.date(2011, 4, 2), Settings(currency="EUR"))
    assert "in EUR:" in warehouse.execute(comment).fetchone()[0]
    run_stages(source, warehouse, dt.date(2011, 4, 3))
    assert "in GBP:" in warehouse.execute(comment).fetchone()[0]
    assert warehouse.execute("select count(*) from internal.warehouse_setups").fetchone()[0] == 3


def test_a_view_dropped_by_hand_comes_back_once_the_setup_record_is_deleted_as_the_readme_says(source, warehouse):
    published_first_night(source, warehouse)
    exists = "select to_regclass('segments.customer_segments_current') is not null"
    warehouse.execute("drop view segments.customer_segments_current")
    warehouse.commit()

    run_stages(source, warehouse, dt.date(2011, 4, 2))
    assert not warehouse.execute(exists).fetchone()[0], "an unchanged setup is not applied again"

    warehouse.execute("delete from internal.warehouse_setups")
    warehouse.commit()
    run_stages(source, warehouse, dt.date(2011, 4, 3))
    assert warehouse.execute(exists).fetchone()[0]


def test_two_runs_setting_up_a_fresh_warehouse_at_once_apply_the_setup_once(warehouse):
    """The nightly run and a backfill starting together on a new warehouse: one sets it up, the
    other waits for it and finds the setup done."""
    from concurrent.futures import ThreadPoolExecutor

    def set_up(_: int) -> None:
        with db.connect_url(server.url(warehouse.info.dbname)) as conn:
            warehouse_setup.ensure_schema(conn, Settings())

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(set_up, range(2)))
    assert warehouse.execute("select fingerprint from internal.warehouse_setups").fetchall() == [
        (warehouse_setup.setup_fingerprint(Settings()),)]
