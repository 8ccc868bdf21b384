"""The synthetic histories: generated into the bench's source database, the last day held back."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Iterator

from segments import db, queries
from segments.pipeline import change_capture
from segments.settings import Settings
from segments.tools import generate, load
from segments.tools.cli import ProgressLine

MIN_HISTORY_DAYS = 14


def size_label(lines: int) -> str:
    """A size as the report names it: 10M, 200k, or the exact count when it is not round."""
    if lines >= 1_000_000 and lines % 1_000_000 == 0:
        return f"{lines // 1_000_000}M"
    if lines >= 1_000 and lines % 1_000 == 0:
        return f"{lines // 1_000}k"
    return f"{lines:,}"


def history_days(lines: int, lines_per_day: int) -> int:
    return max(MIN_HISTORY_DAYS, math.ceil(lines / lines_per_day))


def _date_at(chunk: str, position: int) -> str:
    """The invoice_date (YYYY-MM-DD) of the COPY text line starting at `position` (fifth field)."""
    for _ in range(4):
        position = chunk.index("\t", position) + 1
    return chunk[position : position + 10]


def split_stream(chunks: Iterable[str], boundary: str, held: list[str]) -> Iterator[str]:
    """Yield the lines dated before `boundary`; collect the rest (dates ascend) into `held`."""
    for chunk in chunks:
        if held:
            held.append(chunk)
            continue
        last_line = chunk.rfind("\n", 0, len(chunk) - 1) + 1
        if _date_at(chunk, last_line) < boundary:
            yield chunk
            continue
        position = 0
        while position < len(chunk) and _date_at(chunk, position) < boundary:
            position = chunk.index("\n", position) + 1
        if position:
            yield chunk[:position]
        held.append(chunk[position:])


def load_source(source_url: str, lines: int, customers: int, start: dt.date, end: dt.date, seed: int,
                label: str) -> tuple[dict, str]:
    """Fill the source with ~`lines` lines dated [start, end); return stats and the next day's lines."""
    next_day = end + dt.timedelta(days=1)
    # One stream up to the next day, so that the held-back day continues the history; sized so
    # that the history alone has about `lines`.
    total = math.ceil(lines / (1.0 - float(generate.day_shares(start, next_day)[-1])))
    chunks = generate.generate_copy_chunks(total, customers, start, next_day, seed=seed)
    held: list[str] = []
    progress = ProgressLine(f"[bench] {label}: generating + COPY into the source", total=lines)
    started = time.perf_counter()
    with db.connect_url(source_url) as conn:
        loaded = load.copy_into_source(conn, split_stream(chunks, end.isoformat(), held), replace=True,
                                       progress=progress)
        progress.finish(loaded)
        copy_seconds = time.perf_counter() - started
        analyze_started = time.perf_counter()
        queries.execute(conn, "source/analyze_invoice_lines.sql")
        analyze_seconds = time.perf_counter() - analyze_started
        # The shop has the change capture on, as a production source should: the nightly run
        # reads the days written since the full run instead of fingerprinting all history.
        change_capture.install(conn, Settings().source_table)
    day_text = "".join(held)
    return {
        "history_lines": loaded,
        "history_start": start.isoformat(),
        "history_end": end.isoformat(),
        "history_days": (end - start).days,
        "customer_pool": customers,
        "seed": seed,
        "load_seconds": round(copy_seconds, 3),
        "load_lines_per_second": round(loaded / copy_seconds) if copy_seconds else None,
        "analyze_seconds": round(analyze_seconds, 3),
        "incremental_day": end.isoformat(),
        "incremental_day_lines": day_text.count("\n"),
    }, day_text


def vacuum_warehouse(url: str) -> float:
    """VACUUM and ANALYZE every warehouse table; return the seconds it took."""
    started = time.perf_counter()
    with db.connect_url(url) as conn:
        queries.execute(conn, "internal/vacuum_warehouse.sql")
    return round(time.perf_counter() - started, 3)


def append_day(source_url: str, day_text: str) -> dict:
    """Add the held-back day to the source, as the shop's day of sales."""
    started = time.perf_counter()
    with db.connect_url(source_url) as conn:
        lines = load.copy_into_source(conn, [day_text], replace=False)
    return {"lines": lines, "seconds": round(time.perf_counter() - started, 3)}
