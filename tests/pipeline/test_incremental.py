"""A nightly run rebuilds the models of the days whose lines changed, not of every day it re-reads."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import fresh_database
from pipeline_helpers import run_stages
from segments import db
from segments.errors import SourceError
from segments.settings import Settings
from segments.tools import load

SOURCE_TABLE = Settings().source_table
FIRST_DAY = dt.date(2011, 3, 1)
FEATURES = ("select customer_id, recency_days, frequency_invoices, monetary_revenue, distinct_products, country "
            "from intermediate.int_customer_features where run_id = %s order by customer_id")


def line(number: int, day: int) -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    return (f"{500000 + number}\t{22000 + number % 6}\tITEM\t2\t{FIRST_DAY + dt.timedelta(days=day)} 10:00:00\t"
            f"2.50\t{10000 + number % 5}\tUnited Kingdom\n")


def days_rebuilt(run: dict) -> int:
    return run["aggregates"]["days_rebuilt"]


def test_only_the_new_day_and_the_changed_days_of_the_look_back_are_rebuilt(source, warehouse):
    # A line a day for 40 days; the first run's snapshot leaves the last day for the next night.
    load.copy_into_source(source, ["".join(line(number, number) for number in range(40))], replace=True)
    run_stages(source, warehouse, FIRST_DAY + dt.timedelta(days=39), publish=False)

    # The next night re-reads the look-back (3 days) and the new day: only the new day changed.
    night = FIRST_DAY + dt.timedelta(days=40)
    assert days_rebuilt(run_stages(source, warehouse, night, publish=False)) == 1

    # A price corrected inside the look-back, and a line gone from it: those two days are rebuilt.
    source.execute(f"update {SOURCE_TABLE} set unit_price = 3.75 where invoice_no = '500038'")
    source.execute(f"delete from {SOURCE_TABLE} where invoice_no = '500037'")
    source.commit()
    rerun = run_stages(source, warehouse, night, publish=False)
    assert days_rebuilt(rerun) == 2

    # ... and the features are those of a warehouse built from scratch on the corrected source.
    with db.connect_url(fresh_database("segments_test_incremental_reference")) as reference:
        fresh = run_stages(source, reference, night, publish=False)
        expected = reference.execute(FEATURES, (fresh["snapshot"].run_id,)).fetchall()
    assert warehouse.execute(FEATURES, (rerun["snapshot"].run_id,)).fetchall() == expected

    # A full refresh rebuilds every day, changed or not (the repair for models out of step).
    assert days_rebuilt(run_stages(source, warehouse, night, publish=False, full_refresh=True)) == 39


def planned_product_days(warehouse) -> float:
    """How many product days the planner believes there are (-1: never analysed)."""
    return warehouse.execute(
        "select reltuples from pg_class where oid = 'intermediate.int_customer_product_days'::regclass"
    ).fetchone()[0]


def planned_customer_days(warehouse) -> float:
    """How many customer-days the planner believes there are (-1: never analysed)."""
    return warehouse.execute(
        "select reltuples from pg_class where oid = 'intermediate.int_customer_daily'::regclass").fetchone()[0]


def planned_raw_lines(warehouse) -> float:
    """How many extracted lines the planner believes there are (-1: never analysed)."""
    return warehouse.execute("select reltuples from pg_class where oid = 'raw.invoice_lines'::regclass").fetchone()[0]


def test_a_rebuild_of_most_days_rebuilds_the_pair_index_and_statistics_and_a_night_does_not(source, warehouse):
    # Fewer rows than autovacuum's threshold (50): only the rebuild's own ANALYZE can count them.
    load.copy_into_source(source, ["".join(line(number, number) for number in range(40))], replace=True)
    run_stages(source, warehouse, FIRST_DAY + dt.timedelta(days=39), publish=False)
    assert planned_product_days(warehouse) == 39, "the first run's 39 product days, counted before the new products read them"
    assert warehouse.execute("select to_regclass('intermediate.int_customer_product_days_pair_idx')").fetchone()[0], \
        "the pair index the first run wrote them without is there again"
    assert planned_raw_lines(warehouse) == 39, "the extract of all history counted its lines for the classification's plan"
    assert planned_customer_days(warehouse) == 39, "the first run's customer-days, counted for the features' plan"

    # A night rewrites one day of 40: the statistics are left to autovacuum.
    run_stages(source, warehouse, FIRST_DAY + dt.timedelta(days=40), publish=False)
    assert planned_product_days(warehouse) == 39
    assert planned_raw_lines(warehouse) == 39
    assert planned_customer_days(warehouse) == 39


def test_a_source_value_the_contract_cannot_hold_stops_the_extract_mid_stream_and_names_the_days(source, warehouse):
    # 2,000 good lines stream to the warehouse before the one whose quantity no integer holds.
    load.copy_into_source(source, ["".join(line(number, number % 40) for number in range(2000))], replace=True)
    source.execute(f"alter table {SOURCE_TABLE} alter column quantity type bigint")
    source.execute(f"insert into {SOURCE_TABLE} select invoice_no || 'X', stock_code, customer_id, description, country, "
                   f"3000000000, unit_price, invoice_date from {SOURCE_TABLE} where invoice_no = '500039'")
    source.commit()
    night = FIRST_DAY + dt.timedelta(days=40)
    with pytest.raises(SourceError, match=rf"dated before {night} or undated .*integer out of range.*correct the line"):
        run_stages(source, warehouse, night, publish=False)
    assert warehouse.execute("select count(*) from raw.invoice_lines").fetchone()[0] == 0
    assert warehouse.execute("select count(*) from internal.extracted_days").fetchone()[0] == 0

    # The same connections go on: once the line is corrected, the rerun extracts every line.
    source.execute(f"update {SOURCE_TABLE} set quantity = 3 where quantity > 2147483647")
    source.commit()
    assert run_stages(source, warehouse, night, publish=False)["extract"]["lines_extracted"] == 2001
