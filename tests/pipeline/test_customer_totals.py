"""Property: a nightly run's features, read from the customers' totals of all history that each
rebuild keeps current for the customers of the days it rebuilt, equal the features of the same
date computed from the daily aggregates of the days before it, after any change to history.

Hypothesis draws a small shop (purchases and returns, customers in several countries), runs a
first snapshot, rewrites history (lines removed, lines added on old days: new customers, other
countries, returns), and runs the next night, which reads the totals the rebuild updated. The
same night in a warehouse that published a later date first is a backfill there: the totals of
all history cover later days, so that run computes totals of its own from the daily aggregates.
Every feature of every customer must agree, and the first path must really have been taken.
"""

from __future__ import annotations

import datetime as dt
import os

from conftest import TEST_WAREHOUSE, fresh_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_helpers import run_stages
from segments import db
from segments.pipeline import aggregates
from segments.tools import load

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

FIRST_DAY = dt.date(2011, 3, 1)
DAYS = 40
AS_OF = FIRST_DAY + dt.timedelta(days=DAYS)
NIGHT = AS_OF + dt.timedelta(days=1)
REFERENCE_WAREHOUSE = "segments_test_totals_reference"
FEATURES = ("select customer_id, recency_days, frequency_invoices, monetary_revenue, avg_order_revenue, "
            "items_per_order, tenure_days, return_rate, distinct_products, is_clusterable, country, "
            "first_purchase_date, last_purchase_date "
            "from intermediate.int_customer_features where run_id = %s order by customer_id")

# day, customer, product, quantity (negative: a return), country
a_line = st.tuples(
    st.integers(0, DAYS - 1),
    st.sampled_from(("10001", "10002", "10003", "10004", "10005")),
    st.sampled_from(("85123A", "22423", "47566")),
    st.sampled_from((1, 2, 6, -1, -3)),
    st.sampled_from(("United Kingdom", "France", "Germany")),
)


def as_copy_text(lines: list[tuple[int, tuple]]) -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    return "".join(
        f"{'C' if quantity < 0 else ''}{500000 + number}\t{product}\tITEM\t{quantity}\t"
        f"{FIRST_DAY + dt.timedelta(days=day)} 10:00:00\t2.55\t{customer}\t{country}\n"
        for number, (day, customer, product, quantity, country) in lines
    )


def features(warehouse, run: dict) -> list[tuple]:
    return warehouse.execute(FEATURES, (run["snapshot"].run_id,)).fetchall()


# Always there: a purchase on the first day (every snapshot has a customer to segment), and one
# after the night, which only the reference's later run extracts.
FIRST_PURCHASE = (2000, (0, "10009", "85123A", 1, "United Kingdom"))
AFTER_THE_NIGHT = (2001, (DAYS + 3, "10001", "22423", 2, "France"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    history=st.lists(a_line, min_size=1, max_size=30),
    removed=st.sets(st.integers(0, 29), max_size=6),
    added=st.lists(a_line, max_size=6),
)
def test_features_from_the_kept_totals_equal_those_from_the_daily_aggregates(source, history, removed, added):
    numbered = [*enumerate(history), FIRST_PURCHASE, AFTER_THE_NIGHT]
    load.copy_into_source(source, [as_copy_text(numbered)], replace=True)
    with db.connect_url(fresh_database(TEST_WAREHOUSE)) as warehouse, \
            db.connect_url(fresh_database(REFERENCE_WAREHOUSE)) as reference:
        run_stages(source, warehouse, AS_OF, publish=False)

        # History changes: some lines vanish, others appear on old days.
        changed = [each for each in numbered if each[0] not in removed]
        changed += [(1000 + number, each) for number, each in enumerate(added)]
        load.copy_into_source(source, [as_copy_text(changed)], replace=True)
        night = run_stages(source, warehouse, NIGHT, publish=False)
        assert aggregates.all_history_totals_cover(warehouse, NIGHT), "the night read the kept totals"

        # The reference extracted a later day first: its night is a backfill, from the daily aggregates.
        run_stages(source, reference, NIGHT + dt.timedelta(days=5), publish=False)
        backfill = run_stages(source, reference, NIGHT, publish=False)
        assert not aggregates.all_history_totals_cover(reference, NIGHT), "the backfill computed its own totals"
        assert features(warehouse, night) == features(reference, backfill)
