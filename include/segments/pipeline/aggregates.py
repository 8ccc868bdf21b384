"""Incremental models: classify the lines of changed days and refresh their daily aggregates.

The extract queues every day whose raw lines changed in `internal.pending_days`, whichever run
extracted it; rebuilding the models of exactly those days keeps the nightly cost proportional
to what changed, and lets any run finish the work another run left half-done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql

from segments import queries
from segments.pipeline import warehouse as warehouse_state
from segments.pipeline.extract import BEGINNING_OF_HISTORY, DAY, ExtractWindow, day_ranges
from segments.settings import NON_PRODUCT_STOCK_CODE_PREFIXES, NON_PRODUCT_STOCK_CODES, Settings

# The model a later model of the same rebuild reads back (the new products read the product
# days), and the share of its days beyond which a rebuild writes it without its primary key and
# pair index (built again after: one sort each instead of an entry placed per row, which pays past
# about a third of the rows) and refreshes its statistics before that read.
PRODUCT_DAYS_INSERT = "intermediate/int_customer_product_days__insert.sql"
MOST_OF_THE_DAYS = 0.5
# The model whose rows a rebuild counts, to tell whether the daily models' statistics need taking
# again: its file's last statement lists the range's customer-days, as many as it wrote.
CUSTOMER_DAILY_INSERT = "intermediate/int_customer_daily__insert.sql"
# Rebuilt per range of days, in dependency order: each (forget, rebuild) pair reads the models before
# it; the classified lines of the range first.
DAY_MODELS = (
    ("intermediate/int_invoice_lines_classified__drop.sql", "intermediate/int_invoice_lines_classified__create.sql"),
    ("intermediate/int_customer_daily__delete.sql", CUSTOMER_DAILY_INSERT),
    ("intermediate/int_customer_product_days__delete.sql", PRODUCT_DAYS_INSERT),
    ("intermediate/int_customer_new_products_daily__delete.sql", "intermediate/int_customer_new_products_daily__insert.sql"),
    ("intermediate/int_customer_country_daily__delete.sql", "intermediate/int_customer_country_daily__insert.sql"),
    ("intermediate/int_line_class_daily__delete.sql", "intermediate/int_line_class_daily__insert.sql"),
)
# An empty range: the models' statements then touch only the undated lines.
NO_DAYS = ExtractWindow(dt.date(1900, 1, 1), dt.date(1900, 1, 1))
# The `before_date` of the customers' totals of all history (intermediate.int_customer_totals),
# which every rebuild keeps current for the customers of the days it rebuilt.
ALL_HISTORY_TOTALS = dt.date.max
# Whose totals a statement recomputes: a condition in the statement itself (not a parameter
# that switches it off), so that the planner joins the customers of the rebuilt days on the
# daily models' customer index instead of scanning them whole.
CHANGED_CUSTOMERS = sql.SQL("and customer_id in (select customer_id from pg_temp.int_customers_with_changed_days)")
EVERY_CUSTOMER = sql.SQL("")


@dataclass(frozen=True)
class Rebuild:
    """What a refresh of the pending days rebuilt: how many days, and how many customer-days it wrote."""

    days: int
    customer_days: int


@dataclass(frozen=True)
class LineCount:
    line_class: str
    exclusion_reason: str
    lines: int


def classification_params(settings: Settings) -> dict:
    """Rule parameters of the line classification."""
    return {
        "max_abs_quantity": settings.max_abs_quantity,
        "max_unit_price": settings.max_unit_price,
        "non_product_codes": list(NON_PRODUCT_STOCK_CODES),
        # LIKE patterns: an escaped underscore matches itself, not any character.
        "non_product_patterns": [prefix.replace("_", "\\_") + "%" for prefix in NON_PRODUCT_STOCK_CODE_PREFIXES],
    }


def refresh_pending_days(warehouse: psycopg.Connection, settings: Settings) -> Rebuild:
    """Rebuild the models of every queued day, and of the undated lines.

    The caller holds the warehouse write lock in an open transaction, so no extract can queue
    or rewrite days meanwhile; the classified lines last as long as it.
    """
    days = [row["invoice_day"] for row in queries.fetch_all(warehouse, "internal/pending_days__select.sql")]
    ranges = day_ranges(days, _days_with_lines_among(warehouse, days))
    queries.execute(warehouse, "intermediate/int_customers_with_changed_days__create.sql")
    rule_params = classification_params(settings)
    customer_days = 0
    for days_range, with_undated in [*((each, False) for each in ranges), (NO_DAYS, True)]:
        params = {**days_range.params(), **rule_params, "with_undated": with_undated}
        for forget_file, rebuild_file in DAY_MODELS:
            rewrites_most = rebuild_file == PRODUCT_DAYS_INSERT and _rewrites_most_of_product_days(warehouse, days_range)
            if rewrites_most:
                queries.execute(warehouse, "intermediate/int_customer_product_days__drop_primary_key.sql")
                queries.execute(warehouse, "intermediate/int_customer_product_days__drop_pair_index.sql")
            queries.execute(warehouse, forget_file, params)
            written = queries.execute(warehouse, rebuild_file, params)
            if rebuild_file == CUSTOMER_DAILY_INSERT:
                customer_days += written
            if rewrites_most:
                queries.execute(warehouse, "intermediate/int_customer_product_days__primary_key.sql")
                queries.execute(warehouse, "intermediate/int_customer_product_days__pair_index.sql")
                queries.execute(warehouse, "intermediate/analyze_customer_product_days.sql")
    rebuild_totals(warehouse, ALL_HISTORY_TOTALS, BEGINNING_OF_HISTORY, all_history=True, customers=CHANGED_CUSTOMERS)
    queries.execute(warehouse, "internal/pending_days__delete.sql", {"days": days})
    return Rebuild(len(days), customer_days)


def rebuild_totals(
    warehouse: psycopg.Connection, before_date: dt.date, history_start: dt.date, all_history: bool,
    customers: sql.Composable,
) -> None:
    """Recompute the customers' totals of the days before `before_date` (from `history_start` on),
    of CHANGED_CUSTOMERS or of EVERY_CUSTOMER."""
    params = {"before_date": before_date, "history_start": history_start, "all_history": all_history}
    queries.execute(warehouse, "intermediate/int_customer_totals__delete.sql", params, {"of_customers": customers})
    queries.execute(warehouse, "intermediate/int_customer_totals__insert.sql", params, {"of_customers": customers})


def forget_totals(warehouse: psycopg.Connection, before_date: dt.date) -> None:
    """Remove every customer's totals of the days before `before_date`."""
    queries.execute(warehouse, "intermediate/int_customer_totals__delete.sql", {"before_date": before_date},
                    {"of_customers": EVERY_CUSTOMER})


def all_history_totals_cover(warehouse: psycopg.Connection, as_of_date: dt.date) -> bool:
    """Whether the totals of all history are those of exactly the days before `as_of_date`: no
    daily aggregate is dated on or after it (a nightly run's snapshot, never a backfill's)."""
    (span,) = queries.fetch_all(warehouse, "intermediate/int_customer_daily__day_span.sql")
    return span["last_day"] is None or (span["first_day"] >= BEGINNING_OF_HISTORY and span["last_day"] < as_of_date)


def _days_with_lines_among(warehouse: psycopg.Connection, days: list[dt.date]) -> list[dt.date]:
    """The extracted days with lines between the first and the last of `days` (none without days)."""
    if not days:
        return []
    rows = queries.fetch_all(warehouse, "internal/extracted_days__between.sql",
                             {"first_day": min(days), "last_day": max(days)})
    return [row["invoice_day"] for row in rows]


def _rewrites_most_of_product_days(warehouse: psycopg.Connection, days_range: ExtractWindow) -> bool:
    """Whether `days_range` is more than MOST_OF_THE_DAYS of the days the product days will span
    (a first run, a full refresh, a long gap; never a nightly window)."""
    (span,) = queries.fetch_all(warehouse, "intermediate/int_customer_product_days__day_span.sql")
    first_day = min(span["first_day"] or days_range.start, days_range.start)
    last_day = max(span["last_day"] or days_range.start, days_range.end - DAY)
    return (days_range.end - days_range.start).days > MOST_OF_THE_DAYS * ((last_day - first_day).days + 1)


def window_line_counts(warehouse: psycopg.Connection, window: ExtractWindow) -> list[LineCount]:
    """The classified lines of a run's re-read window (and the undated ones), per class and reason."""
    return [LineCount(**row) for row in queries.fetch_all(warehouse, "intermediate/window_line_counts.sql", window.params())]


def unclassified_lines(warehouse: psycopg.Connection, window: ExtractWindow) -> int:
    """Raw lines of the window minus classified ones: zero when every line was classified exactly once."""
    (row,) = queries.fetch_all(warehouse, "intermediate/window_unclassified_lines.sql", window.params())
    return row["unclassified_lines"]


def analyze(warehouse: psycopg.Connection, rebuild: Rebuild) -> None:
    """Fresh statistics for the aggregates after a rebuild that wrote much of them (outside any transaction)."""
    warehouse_state.analyze_when_stale(warehouse, "intermediate/analyze_window_models.sql",
                                       "intermediate.int_customer_daily", rebuild.customer_days)
