"""Incremental extract: source invoice lines into the warehouse's raw layer, streamed with COPY.

The window re-read for snapshot D is [high-water mark day - look-back, D): everything newer than
what was already extracted, plus a few recent days to pick up late or corrected lines. Runs
skipped for days are therefore caught up by the next one, and a backfill of an earlier date
re-reads only the days just before it. The window is replaced as a whole in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass

import psycopg

from segments import queries
from segments.errors import SourceError

log = logging.getLogger(__name__)

SOURCE_COLUMNS = ("invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country")
# A window start before any real invoice: a full refresh re-reads all history before D.
BEGINNING_OF_HISTORY = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class ExtractWindow:
    """Days [start, end) re-read from the source; end is the snapshot date."""

    start: dt.date
    end: dt.date

    def params(self) -> dict[str, dt.date]:
        return {"window_start": self.start, "window_end": self.end}


@dataclass(frozen=True)
class ExtractResult:
    window_start: dt.date
    window_end: dt.date
    lines_extracted: int
    seconds: float

    def as_dict(self) -> dict:
        return {key: value.isoformat() if isinstance(value, dt.date) else value for key, value in asdict(self).items()}


def plan_window(
    warehouse: psycopg.Connection,
    source: psycopg.Connection,
    source_table: str,
    as_of_date: dt.date,
    lookback_days: int,
    full_refresh: bool,
) -> ExtractWindow:
    """Choose the days to re-read for snapshot `as_of_date`.

    Before trusting the high-water mark, the lines older than the window are counted on both
    sides: if the source has more or fewer (lines arrived later than the look-back, or the
    source was reloaded), all history is re-read instead, so that no line is ever missed.
    """
    full_history = ExtractWindow(BEGINNING_OF_HISTORY, as_of_date)
    check_source(source, source_table, full_history)
    if full_refresh:
        return full_history
    (row,) = queries.fetch_all(warehouse, "staging/raw_high_water_mark.sql")
    high_water_mark = row["high_water_mark"]
    if high_water_mark is None:
        return full_history
    resume_day = min(high_water_mark.date(), as_of_date)
    window = ExtractWindow(resume_day - dt.timedelta(days=lookback_days), as_of_date)
    (in_source,) = queries.fetch_all(source, "source/count_lines_before.sql", window.params(),
                                     identifiers={"source_table": source_table})
    (in_warehouse,) = queries.fetch_all(warehouse, "staging/raw_count_lines_before.sql", window.params())
    if in_source["lines"] != in_warehouse["lines"]:
        log.warning(
            "The source has %s lines dated before %s but the warehouse extracted %s: history changed "
            "(late lines or a reload). Re-extracting all history before %s.",
            in_source["lines"], window.start, in_warehouse["lines"], as_of_date,
        )
        return full_history
    return window


def check_source(source: psycopg.Connection, source_table: str, window: ExtractWindow) -> dt.datetime:
    """Refuse a source that lost columns or has no lines before the snapshot; return its newest line."""
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
        source, "source/newest_line_before.sql", window.params(), identifiers={"source_table": source_table}
    )
    if row["newest_invoice_date"] is None:
        raise SourceError(
            f"Source table {source_table} has no invoice lines dated before {window.end}. "
            "Nothing was published; load data or choose a later date."
        )
    return row["newest_invoice_date"]


def extract(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    window: ExtractWindow,
    run_id: str,
    source_table: str,
) -> ExtractResult:
    """Replace the window's lines in raw.invoice_lines with the source's, streaming COPY to COPY."""
    started = time.perf_counter()
    (copy_out,) = queries.statements("source/select_invoice_lines_window.sql")
    (copy_in,) = queries.statements("staging/raw_invoice_lines__copy.sql")
    params = {**window.params(), "run_id": run_id}
    # One consistent snapshot of the source for the copy, and one warehouse transaction: all of
    # the window or none of it. (plan_window has checked the source.)
    with source.transaction(), warehouse.transaction():
        queries.execute(source, "source/snapshot_transaction.sql")
        queries.execute(warehouse, "setup/lock_warehouse_writes.sql")
        queries.execute(warehouse, "staging/raw_invoice_lines__delete.sql", window.params())
        with source.cursor() as reader, warehouse.cursor() as writer:
            with reader.copy(queries.compose(copy_out, {"source_table": source_table}), params) as rows_out:
                with writer.copy(copy_in) as rows_in:
                    for block in rows_out:
                        rows_in.write(block)
            lines = writer.rowcount
    return ExtractResult(window.start, window.end, lines, round(time.perf_counter() - started, 3))
