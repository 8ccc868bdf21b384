"""What people read: the published segment profiles as a table."""

from __future__ import annotations

import datetime as dt

import psycopg
from tabulate import tabulate

from segments import queries, warehouse

PROFILE_HEADERS = {
    "segment_id": "id",
    "segment_name": "segment",
    "customers": "customers",
    "customer_share": "% customers",
    "revenue": "revenue",
    "revenue_share": "% revenue",
    "median_recency_days": "median recency (days)",
    "median_frequency_invoices": "median invoices",
    "median_monetary_revenue": "median revenue",
    "mean_avg_order_revenue": "mean order value",
    "mean_items_per_order": "mean items/order",
}


def profiles_table(conn: psycopg.Connection, as_of_date: dt.date | None) -> str:
    """The segment profiles of a snapshot (default: the current one), as an aligned table."""
    if as_of_date is None:
        current = warehouse.current_snapshot(conn)
        if current is None:
            return "No snapshot published yet: run `segments run` first."
        as_of_date = current["as_of_date"]
    rows = queries.fetch_all(conn, "published/segment_profiles__select.sql", {"as_of_date": as_of_date})
    if not rows:
        return f"No snapshot published for {as_of_date}."
    table = [
        [
            row["segment_id"], row["segment_name"], f"{row['customers']:,}", f"{row['customer_share']:.1%}",
            f"{row['revenue']:,.0f}", f"{row['revenue_share']:.1%}", f"{row['median_recency_days']:,.0f}",
            f"{row['median_frequency_invoices']:,.0f}", f"{row['median_monetary_revenue']:,.0f}",
            f"{row['mean_avg_order_revenue']:,.0f}", f"{row['mean_items_per_order']:,.0f}",
        ]
        for row in rows
    ]
    headers = list(PROFILE_HEADERS.values())
    return f"Segment profiles as of {as_of_date}\n" + tabulate(table, headers=headers, stralign="right", disable_numparse=True)
