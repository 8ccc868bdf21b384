"""A warehouse set up before a daily model existed gets it, complete, on its next run."""

from __future__ import annotations

import datetime as dt

from conftest import fresh_database
from pipeline_helpers import run_stages
from segments import db
from segments.tools import load

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
    for statement in earlier_release:
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


def test_a_warehouse_from_before_drops_the_assignments_foreign_key(source, warehouse):
    first_day = dt.date(2011, 3, 1)
    lines = [line(500000 + n, first_day + dt.timedelta(days=n % 40), f"100{n % 40:02d}", f"2200{n % 5}", "France")
             for n in range(400)]
    load.copy_into_source(source, ["".join(lines)], replace=True)
    run_stages(source, warehouse, dt.date(2011, 4, 1))
    # The key as the release before created it.
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
