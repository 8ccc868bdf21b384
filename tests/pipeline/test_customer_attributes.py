"""Who the customer is: country (most purchase lines, ties by name) and first and last purchase, point in time."""

from __future__ import annotations

import datetime as dt

from pipeline_helpers import run_stages
from segments.tools import load


def line(invoice: str, day: str, country: str, customer: str, quantity: int = 1, stock_code: str = "85123A") -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    return f"{invoice}\t{stock_code}\tHEART\t{quantity}\t{day} 10:00:00\t2.55\t{customer}\t{country}\n"


def test_a_customers_country_is_the_one_on_most_purchase_lines_before_the_snapshot(source, warehouse):
    lines = [
        # most lines in the United Kingdom; a later French order does not change that
        line("500001", "2011-03-01", "United Kingdom", "10001"),
        line("500001", "2011-03-01", "United Kingdom", "10001", stock_code="22423"),
        line("500002", "2011-05-01", "France", "10001"),
        # ... nor do many lines dated on or after the snapshot
        *[line("500009", "2011-06-10", "Portugal", "10001", stock_code=f"2200{n}") for n in range(5)],
        # a tie goes to the first country by name
        line("500003", "2011-04-01", "Germany", "10002"), line("500004", "2011-04-02", "France", "10002"),
        # returns are not purchases
        line("500005", "2011-02-01", "Spain", "10003"),
        *[line("C500006", "2011-02-02", "Italy", "10003", quantity=-1, stock_code=f"2300{n}") for n in range(3)],
    ]
    load.copy_into_source(source, ["".join(lines)], replace=True)

    run_stages(source, warehouse, dt.date(2011, 6, 1), publish=False)

    rows = warehouse.execute(
        "select customer_id, country, first_purchase_date, last_purchase_date from intermediate.int_customer_features "
        "order by customer_id").fetchall()
    assert rows == [
        ("10001", "United Kingdom", dt.date(2011, 3, 1), dt.date(2011, 5, 1)),
        ("10002", "France", dt.date(2011, 4, 1), dt.date(2011, 4, 2)),
        ("10003", "Spain", dt.date(2011, 2, 1), dt.date(2011, 2, 1)),
    ]
