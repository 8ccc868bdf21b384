"""Property: a customer's distinct products, kept per customer-day of first purchase, always equal a
plain count over the source's purchase lines before the snapshot, after any change to history.

Hypothesis draws a small shop (customers, products, days), runs a first snapshot, then rewrites the
source's history (lines removed, earlier first purchases added, new customers on old days), and
runs a later night, a rerun and a backfilled earlier date. Each snapshot's features are checked
against the source itself, and the history-window variant against its own plain count.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict

from conftest import TEST_WAREHOUSE, fresh_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_helpers import run_stages
from segments import db
from segments.tools import load

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

FIRST_DAY = dt.date(2011, 3, 1)
DAYS = 45  # a snapshot a day after the last one still finds a line within the 60-day staleness limit
WINDOW_DAYS = 30  # the smallest history_days a run accepts
CUSTOMERS = ("10001", "10002", "10003", "10004")
PRODUCTS = ("85123A", "22423", "47566", "84879", "21212")

purchase = st.tuples(st.integers(0, DAYS - 1), st.sampled_from(CUSTOMERS), st.sampled_from(PRODUCTS))


def as_line(number: int, day: int, customer: str, product: str) -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    stamp = FIRST_DAY + dt.timedelta(days=day)
    return f"{500000 + number}\t{product}\tITEM\t2\t{stamp} 10:00:00\t3.50\t{customer}\tUnited Kingdom\n"


def expected_products(purchases: list[tuple[int, str, str]], as_of: dt.date, window_days: int | None = None) -> dict:
    """Distinct products per customer on purchase lines before `as_of` (within the window, if any)."""
    end = (as_of - FIRST_DAY).days
    start = end - window_days if window_days is not None else 0
    bought = defaultdict(set)
    for day, customer, product in purchases:
        if start <= day < end:
            bought[customer].add(product)
    return {customer: len(products) for customer, products in bought.items()}


def feature_products(warehouse, run: dict) -> dict:
    rows = warehouse.execute(
        "select customer_id, distinct_products from intermediate.int_customer_features where run_id = %s",
        (run["snapshot"].run_id,)).fetchall()
    return dict(rows)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(purchase, min_size=1, max_size=40),
    removed=st.sets(st.integers(0, 39), max_size=8),
    added=st.lists(purchase, max_size=8),
)
def test_distinct_products_follow_every_change_of_history(source, history, removed, added):
    with db.connect_url(fresh_database(TEST_WAREHOUSE)) as warehouse:
        lines = [as_line(n, *each) for n, each in enumerate(history)]
        load.copy_into_source(source, ["".join(lines)], replace=True)
        as_of = FIRST_DAY + dt.timedelta(days=DAYS)
        first = run_stages(source, warehouse, as_of, publish=False)
        assert feature_products(warehouse, first) == expected_products(history, as_of)

        # History changes: some lines vanish, older first purchases and new customers appear.
        kept = [each for n, each in enumerate(history) if n not in removed]
        changed = kept + added
        new_lines = [as_line(n, *each) for n, each in enumerate(history) if n not in removed]
        new_lines += [as_line(1000 + n, *each) for n, each in enumerate(added)]
        load.copy_into_source(source, ["".join(new_lines)], replace=True)

        # The next night, its rerun, and a backfilled earlier date (a snapshot needs a line before it).
        for night in (as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=1), as_of - dt.timedelta(days=25)):
            if expected_products(changed, night):
                run = run_stages(source, warehouse, night, publish=False)
                assert feature_products(warehouse, run) == expected_products(changed, night), night
        if expected_products(changed, as_of, WINDOW_DAYS):
            window = run_stages(source, warehouse, as_of, publish=False, history_days=WINDOW_DAYS)
            assert feature_products(warehouse, window) == expected_products(changed, as_of, WINDOW_DAYS)
