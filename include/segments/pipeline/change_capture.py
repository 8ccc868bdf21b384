"""The source's change capture: which days changed since the last extract, without reading history.

Opt-in (`segments source-capture install`): statement triggers on the source's invoice table log
the days each write touches with the writing transaction's id (source/change_capture__install.sql).
An extract reads the log entries of every transaction its predecessor's snapshot could not see, so
its cost depends on what changed, not on the years of history. Whenever the log cannot be
trusted to be complete (not installed, a trigger dropped or disabled, a new installation, a
TRUNCATE), the extract verifies every earlier day by fingerprint instead, as without the capture.
"""

from __future__ import annotations

import datetime as dt
import logging

import psycopg

from segments import queries

log = logging.getLogger(__name__)

TRIGGERS = 4


def install(source: psycopg.Connection, source_table: str) -> None:
    """Create the log and attach its triggers to the source table (again: a new installation)."""
    params, identifiers = {"source_table": source_table}, {"source_table": source_table}
    with source.transaction():
        queries.execute(source, "source/change_capture__install.sql")
        queries.execute(source, "source/change_capture__detach.sql", params, identifiers=identifiers)
        queries.execute(source, "source/change_capture__attach.sql", params, identifiers=identifiers)


def remove(source: psycopg.Connection, source_table: str) -> None:
    """Detach the triggers and forget the table's log; extracts fingerprint every day again."""
    with source.transaction():
        if _installed(source):
            queries.execute(source, "source/change_capture__detach.sql", {"source_table": source_table},
                            identifiers={"source_table": source_table})


def prune(source: psycopg.Connection, source_table: str, keep_days: int) -> int:
    """Delete log entries older than `keep_days`; return how many. A warehouse that has not read
    the log since then verifies every day by fingerprint once, so pruning never hides a change."""
    with source.transaction():
        if not _installed(source):
            return 0
        rows = queries.fetch_all(source, "source/change_capture__prune.sql",
                                 {"source_table": source_table, "keep_days": keep_days})
    return rows[0]["entries_pruned"] if rows else 0


def describe(source: psycopg.Connection, source_table: str) -> str:
    """One line on whether extracts of this table can use the change capture."""
    state = _state(source, source_table)
    if state is None:
        return (f"Change capture is not installed on {source_table}: every nightly extract fingerprints all "
                "earlier days. `segments source-capture install` (as the table's owner) installs it.")
    if state["enabled_triggers"] < TRIGGERS:
        return (f"Change capture on {source_table} has {state['enabled_triggers']} of its {TRIGGERS} triggers "
                "enabled: extracts cannot trust it and fingerprint all earlier days. "
                "`segments source-capture install` attaches them again.")
    return (f"Change capture is on for {source_table} (installation {state['installation_id']}): nightly "
            "extracts read only the days written since the last extract.")


def _installed(source: psycopg.Connection) -> bool:
    (row,) = queries.fetch_all(source, "source/change_capture__installed.sql")
    return row["installed"]


def _state(source: psycopg.Connection, source_table: str) -> dict | None:
    if not _installed(source):
        return None
    rows = queries.fetch_all(source, "source/change_capture__state.sql", {"source_table": source_table})
    return rows[0] if rows else None


def days_changed_since_last_extract(
    source: psycopg.Connection, warehouse: psycopg.Connection, source_table: str
) -> set[dt.date] | None:
    """Days the source's writes touched since the last extract, or None where the log cannot tell.

    Records where this extract's read ends, in its own warehouse transaction: a run that fails
    leaves the position where it was.
    """
    params = {"source_table": source_table}
    state = _state(source, source_table)
    if state is None or state["enabled_triggers"] < TRIGGERS:
        if state is not None:
            log.warning("Change capture on %s has %s of its %s triggers enabled: writes may be missing from its "
                        "log, so every earlier day is verified by fingerprint. Run `segments source-capture "
                        "install` to attach them again.", source_table, state["enabled_triggers"], TRIGGERS)
        queries.execute(warehouse, "internal/source_change_capture__delete.sql", params)
        return None
    previous = queries.fetch_all(warehouse, "internal/source_change_capture__select.sql", params)
    queries.execute(warehouse, "internal/source_change_capture__upsert.sql", {**params, **state})
    if not previous or previous[0]["installation_id"] != state["installation_id"]:
        log.info("First extract since the change capture on %s was installed: verifying every earlier day by "
                 "fingerprint once; later extracts read its log.", source_table)
        return None
    since = {**params, "since_xmin": previous[0]["read_from_xmin"]}
    (pruned,) = queries.fetch_all(source, "source/change_capture__pruned_past.sql", since)
    if pruned["pruned_past"]:
        log.warning("The change log of %s was pruned past where the last extract left off (no extract for longer "
                    "than the retention): verifying every earlier day by fingerprint once.", source_table)
        return None
    changes = queries.fetch_all(source, "source/change_capture__changed_days.sql", since)
    if any(row["every_day"] for row in changes):
        log.warning("%s was truncated since the last extract: verifying every earlier day by fingerprint.",
                    source_table)
        return None
    return {row["invoice_day"] for row in changes}


def carry_over(warehouse: psycopg.Connection, changed: set[dt.date], snapshot_date: dt.date) -> set[dt.date]:
    """The changed days before the snapshot, with those kept by earlier runs; keep the later ones.

    A backfill of an earlier date re-reads only days before its date: the days after it that
    changed wait in the warehouse for the next run whose snapshot is later.
    """
    days = changed | {row["invoice_day"] for row in
                      queries.fetch_all(warehouse, "internal/source_changed_days__take.sql")}
    later = sorted(day for day in days if day >= snapshot_date)
    if later:
        queries.execute(warehouse, "internal/source_changed_days__keep.sql", {"days": later})
    return {day for day in days if day < snapshot_date}
