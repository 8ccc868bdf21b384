"""What the engineers on call use: the state of recent runs, and withdrawing a bad snapshot."""

from __future__ import annotations

import datetime as dt

import psycopg
from tabulate import tabulate

from segments import queries
from segments.pipeline import warehouse


def status_table(conn: psycopg.Connection, limit: int = 10) -> str:
    """The latest runs (state, stages, time, problem) and the snapshot analysts see as current."""
    warehouse.ensure_schema(conn)
    runs = queries.fetch_all(conn, "reads/recent_runs.sql", {"limit": limit})
    current = warehouse.current_snapshot(conn)
    headline = (
        f"Current snapshot: {current['as_of_date']} ({current['customers_segmented']:,} customers, "
        f"run {current['run_id']}, published {current['published_at']:%Y-%m-%d %H:%M} UTC)"
        if current else "Current snapshot: none published yet"
    )
    if not runs:
        return headline + "\nNo runs recorded yet."
    rows = [
        [
            run["as_of_date"], run["run_id"],
            "failed" if run["failed"] else ("published" if run["is_published"] else "superseded or running"),
            f"{run['seconds'] or 0:,.1f}", f"{run['last_update']:%Y-%m-%d %H:%M}", (run["problem"] or "")[:80],
        ]
        for run in runs
    ]
    table = tabulate(rows, headers=["snapshot", "run", "state", "seconds", "last update (UTC)", "problem"])
    return f"{headline}\n\n{table}"


def rollback(conn: psycopg.Connection, as_of_date: dt.date) -> dict | None:
    """Withdraw snapshot `as_of_date` from every published table at once; return what is current after.

    Snapshots whose migrations compared against the withdrawn one are compared, in the same
    transaction, against the latest snapshot still published before them (segment ids are stable
    along the chain), so no published row points at a withdrawn date. A date that was never
    published is refused and nothing changes: a typo must not look like a rollback.
    """
    with conn.transaction():
        withdrawn_runs = queries.execute(conn, "segments/snapshot__rollback.sql", {"as_of_date": as_of_date})
        if withdrawn_runs == 0:
            # Raising inside the transaction undoes the deletes.
            raise LookupError(_not_published_message(conn, as_of_date))
        for successor in queries.fetch_all(conn, "segments/segment_migrations__compared_with.sql",
                                           {"compared_with": as_of_date}):
            queries.execute(conn, "segments/segment_migrations__delete.sql", successor)
            queries.execute(conn, "segments/segment_migrations__insert.sql", successor)
    return warehouse.current_snapshot(conn)


def _not_published_message(conn: psycopg.Connection, as_of_date: dt.date) -> str:
    published = [row["as_of_date"].isoformat() for row in queries.fetch_all(conn, "reads/report_snapshots.sql")]
    listed = f"Published snapshots: {', '.join(published[:10])}" + (" ..." if len(published) > 10 else "")
    return (
        f"Snapshot {as_of_date} is not published, so there is nothing to withdraw; nothing was changed. "
        f"{listed if published else 'No snapshot is published yet.'} "
        "Check the date (`segments status` shows the current snapshot and recent runs)."
    )
