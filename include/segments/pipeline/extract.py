"""Incremental extract: source invoice lines into the warehouse's raw layer, streamed with COPY.

Snapshot D re-reads the window [high-water mark day - look-back, D): everything newer than what
was already extracted, plus a few recent days to pick up late or corrected lines; where the
source's change capture names the days written since the last extract, only the days after the
high-water mark (the log names the late and corrected ones). Days before
the window are verified instead of re-read, and every day that changed (changed prices, late or
deleted lines, a reload) is re-read too. Where the source has the change capture
(change_capture.py), its log names the days written since the last extract; otherwise the
source's per-day line count and content hash must equal the fingerprints kept when each day was
extracted. Runs skipped for days are caught up by the next one; a backfill of an earlier date
re-reads only the days just before it.

Every day whose raw lines change is queued in `internal.pending_days` (a re-read day whose lines
come back the same is not; a full refresh queues every day); the aggregates stage rebuilds the
models of exactly those days. Everything happens in one transaction under the
warehouse write lock, so concurrent runs see either all of an extract or none of it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import select
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import psycopg
from psycopg import pq

from segments import queries
from segments.errors import SourceError, first_line
from segments.pipeline import change_capture
from segments.pipeline import warehouse as warehouse_state
from segments.settings import SOURCE_COLUMNS

log = logging.getLogger(__name__)

# A window start before any real invoice: a full refresh re-reads all history before D.
BEGINNING_OF_HISTORY = dt.date(1900, 1, 1)
DAY = dt.timedelta(days=1)
# Source rows are relayed to the warehouse in batches of about this size.
COPY_BATCH_BYTES = 1 << 20


@dataclass(frozen=True)
class ExtractWindow:
    """Days [start, end); for the re-read window, end is the snapshot date."""

    start: dt.date
    end: dt.date

    def params(self) -> dict[str, dt.date]:
        return {"window_start": self.start, "window_end": self.end}


@dataclass(frozen=True)
class ExtractResult:
    window_start: dt.date
    window_end: dt.date
    lines_extracted: int
    changed_days_reextracted: int
    # "full history", "change capture" or "fingerprints": how earlier days were checked for changes.
    changed_days_found_by: str
    newest_source_line: dt.datetime
    seconds: float

    def as_dict(self) -> dict:
        return {
            key: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
            for key, value in asdict(self).items()
        }


def day_ranges(days: Iterable[dt.date], days_with_lines: Iterable[dt.date] | None = None) -> list[ExtractWindow]:
    """Days folded into [start, end) ranges, in order: consecutive days, and, given the days that
    hold lines, also days apart when none of those lies between them (a range may then span days
    without lines, which hold nothing to rebuild: a shop's closed Saturdays, its holidays)."""
    days = sorted(set(days))
    # Sorted days that hold lines but are not in `days`: each one keeps the ranges around it apart.
    separators = None if days_with_lines is None else sorted(set(days_with_lines).difference(days))
    ranges: list[ExtractWindow] = []
    for day in days:
        if ranges and _foldable(ranges[-1].end, day, separators):
            ranges[-1] = ExtractWindow(ranges[-1].start, day + DAY)
        else:
            ranges.append(ExtractWindow(day, day + DAY))
    return ranges


def _foldable(end: dt.date, day: dt.date, separators: list[dt.date] | None) -> bool:
    """Whether a range ending (exclusive) at `end` can grow to include `day` (on or after `end`)."""
    if end == day:
        return True
    if separators is None:
        return False
    first_after = bisect.bisect_left(separators, end)
    return first_after == len(separators) or separators[first_after] >= day


def check_source(
    source: psycopg.Connection, source_table: str, as_of_date: dt.date, max_staleness_days: int
) -> dt.datetime:
    """Refuse a source that lost columns, has no lines before the snapshot, or stopped long before it.

    Returns the newest source line dated before the snapshot.
    """
    schema_name, table_name = source_table.split(".", 1)
    present = {row["column_name"] for row in queries.fetch_all(
        source, "source/source_columns.sql", {"schema_name": schema_name, "table_name": table_name}
    )}
    if not present:
        raise SourceError(
            f"Source table {source_table} does not exist in the retail_source database. "
            "Load data with `segments load` or point SEGMENTS_SOURCE_TABLE / the retail_source connection at it."
        )
    missing = [column for column in SOURCE_COLUMNS if column not in present]
    if missing:
        raise SourceError(
            f"Source table {source_table} has lost columns {missing}; the extract needs {list(SOURCE_COLUMNS)}. "
            "Nothing was extracted or published; fix the source schema and rerun."
        )
    (row,) = queries.fetch_all(
        source, "source/newest_line_before.sql", {"window_end": as_of_date}, identifiers={"source_table": source_table}
    )
    newest = row["newest_invoice_date"]
    if newest is None:
        raise SourceError(
            f"Source table {source_table} has no invoice lines dated before {as_of_date}: there is nothing to "
            "segment for that date. Nothing was published; load data or choose a later date."
        )
    silent_days = (as_of_date - newest.date()).days
    if silent_days > max_staleness_days:
        raise SourceError(
            f"The source's newest line before {as_of_date} is dated {newest:%Y-%m-%d}, {silent_days:,} days earlier "
            f"(about {silent_days / 365.25:.1f} years): the shop has had no sales since, or the source stopped "
            "syncing, so a snapshot for this date would be meaningless. Nothing was published. Backfill dates "
            "inside the source's history instead, or raise SEGMENTS_MAX_SOURCE_STALENESS_DAYS "
            f"(now {max_staleness_days}) if the shop really was closed that long."
        )
    return newest


def fingerprint_changed_days(
    source: psycopg.Connection, warehouse: psycopg.Connection, source_table: str, before: dt.date
) -> list[dt.date]:
    """Days before `before` whose lines in the source differ from what was extracted (line count or content hash)."""
    params = {"before": before}
    in_source = {row["invoice_day"]: (row["lines"], row["content_hash"]) for row in queries.fetch_all(
        source, "source/day_fingerprints_before.sql", params, identifiers={"source_table": source_table})}
    extracted = {row["invoice_day"]: (row["lines"], row["content_hash"]) for row in queries.fetch_all(
        warehouse, "internal/extracted_day_fingerprints_before.sql", params)}
    return sorted(day for day in in_source.keys() | extracted.keys() if in_source.get(day) != extracted.get(day))


def _window(
    warehouse: psycopg.Connection, as_of_date: dt.date, lookback_days: int, full_refresh: bool, logged: bool
) -> ExtractWindow:
    """The days to re-read; `logged`: the source's change log names every day written since the
    last extract."""
    full_history = ExtractWindow(BEGINNING_OF_HISTORY, as_of_date)
    if full_refresh:
        return full_history
    forgotten = queries.execute(warehouse, "internal/extracted_days__forget_when_raw_is_empty.sql")
    if forgotten:
        log.warning("raw.invoice_lines is empty but %s extracted day(s) were recorded (the server crashed: the "
                    "table is unlogged): re-extracting all history before %s.", forgotten, as_of_date)
    (row,) = queries.fetch_all(warehouse, "internal/extracted_high_water_mark.sql")
    if row["high_water_mark"] is None:
        return full_history
    high_water_mark = row["high_water_mark"]
    if logged:
        # Every write to a day up to the high-water mark since the last extract is in the log (and
        # re-read as a changed day), late lines too; a later day held no line when it was
        # extracted, or was not extracted yet.
        return ExtractWindow(min(high_water_mark + DAY, as_of_date), as_of_date)
    return ExtractWindow(min(high_water_mark, as_of_date) - dt.timedelta(days=lookback_days), as_of_date)


def plan(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    source_table: str,
    as_of_date: dt.date,
    lookback_days: int,
    full_refresh: bool,
) -> tuple[ExtractWindow, list[dt.date], str]:
    """The re-read window for snapshot `as_of_date`, the earlier days that changed in the source,
    and how those were found."""
    # Read the change log on every run, a full one too: the next run reads on from here.
    captured = change_capture.days_changed_since_last_extract(source, warehouse, source_table)
    window = _window(warehouse, as_of_date, lookback_days, full_refresh, logged=captured is not None)
    captured_before_snapshot = change_capture.carry_over(warehouse, captured or set(), as_of_date)
    if window.start == BEGINNING_OF_HISTORY:
        return window, [], "full history"
    if captured is None:
        changed, found_by = fingerprint_changed_days(source, warehouse, source_table, window.start), "fingerprints"
    else:
        changed, found_by = sorted(day for day in captured_before_snapshot if day < window.start), "change capture"
    if changed:
        log.warning(
            "%s day(s) before %s changed in the source since they were extracted (first %s, last %s; found by "
            "%s): re-extracting them.", len(changed), window.start, changed[0], changed[-1], found_by,
        )
    return window, changed, found_by


def _relay(source: psycopg.Connection, rows_in: psycopg.Copy) -> None:
    """Pass the source's COPY out, started on `source`, to the warehouse's COPY in, a megabyte at a time.

    The server sends one message per line, and psycopg's reader (`Copy.read`) goes through a
    generator and a wait for each: 5.1 s of this process's CPU for 10M lines, which then competes
    with both servers for the two cores. Taking the lines from libpq's buffer directly, and
    waiting on the socket only when the buffer is empty, costs 2.2 s. A failure on the source's
    side ends the stream and raises the server's error, as psycopg's reader does.
    """
    pgconn = source.pgconn
    socket_readable = select.poll()
    socket_readable.register(pgconn.socket, select.POLLIN)
    batch = bytearray()
    while True:
        nbytes, line = pgconn.get_copy_data(1)
        if nbytes > 0:
            batch += line
            if len(batch) >= COPY_BATCH_BYTES:
                rows_in.write(batch)
                batch = bytearray()
        elif nbytes == 0:  # the buffer is empty: wait for the next packet
            socket_readable.poll()
            pgconn.consume_input()
        else:  # the stream ended
            break
    rows_in.write(batch)
    results = []
    while (result := pgconn.get_result()) is not None:  # until none is left: the connection is then idle
        results.append(result)
    for result in results:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding=source.info.encoding)


def _copy_range(
    source: psycopg.Connection, warehouse: psycopg.Connection, days: ExtractWindow, with_undated: bool,
    run_id: str, source_table: str, rebuild_all: bool,
) -> int:
    """Replace one range of days in raw.invoice_lines with the source's lines, COPY to COPY; queue
    the days whose lines changed (every day, with `rebuild_all`) for the aggregates."""
    (copy_out,) = queries.statements("source/select_invoice_lines_window.sql")
    (copy_in,) = queries.statements("raw/raw_invoice_lines__copy.sql")
    params = {**days.params(), "with_undated": with_undated}
    queries.execute(warehouse, "raw/raw_invoice_lines__delete.sql", params)
    try:
        with source.cursor() as reader, warehouse.cursor() as writer:
            with reader.copy(queries.compose(copy_out, {"source_table": source_table}), params):
                with writer.copy(queries.compose(copy_in, {"source_columns": SOURCE_COLUMNS})) as rows_in:
                    _relay(source, rows_in)
            lines = writer.rowcount
    except psycopg.DataError as error:
        # A source column whose values do not all fit the contract's type (a bigint quantity, a text date).
        dated = f"dated before {days.end}" if days.start == BEGINNING_OF_HISTORY else f"dated {days.start} to {days.end - DAY}"
        if with_undated:
            dated += " or undated"
        raise SourceError(
            f"Source table {source_table} has a line {dated} whose value the extract cannot convert to "
            f"the contract's types: {first_line(error)}. Nothing was extracted; correct the line in the source, "
            "or convert the column there, and rerun."
        ) from error
    queries.execute(warehouse, "internal/extracted_days__refresh.sql", {
        **params, "run_id": run_id, "rebuild_all": rebuild_all,
        "from_beginning_of_history": days.start == BEGINNING_OF_HISTORY,
    })
    return lines


def extract(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    as_of_date: dt.date,
    lookback_days: int,
    full_refresh: bool,
    run_id: str,
    source_table: str,
    max_staleness_days: int,
    lock_timeout_seconds: int,
) -> ExtractResult:
    """Bring raw.invoice_lines up to date with the source for every day before `as_of_date`."""
    started = time.perf_counter()
    # One consistent snapshot of the source, and one warehouse transaction: all of it or none.
    with source.transaction(), warehouse.transaction():
        queries.execute(source, "source/snapshot_transaction.sql")
        newest = check_source(source, source_table, as_of_date, max_staleness_days)
        warehouse_state.lock_shared_models(warehouse, run_id, "extract", lock_timeout_seconds)
        window, changed, found_by = plan(source, warehouse, source_table, as_of_date, lookback_days, full_refresh)
        lines = _copy_range(source, warehouse, window, True, run_id, source_table, rebuild_all=full_refresh)
        for days in day_ranges(changed):
            lines += _copy_range(source, warehouse, days, False, run_id, source_table, rebuild_all=full_refresh)
        if window.start == BEGINNING_OF_HISTORY:
            queries.execute(warehouse, "raw/raw_invoice_lines__analyze.sql")
    return ExtractResult(window.start, window.end, lines, len(changed), found_by, newest,
                         round(time.perf_counter() - started, 3))


def lines_dated_after(source: psycopg.Connection, source_table: str, moment: dt.datetime) -> int:
    """Source lines dated after `moment` (business-local time): not sales yet, whatever they are."""
    (row,) = queries.fetch_all(source, "source/count_lines_dated_after.sql", {"moment": moment},
                               identifiers={"source_table": source_table})
    return row["lines"]
