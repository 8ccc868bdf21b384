"""Audience export: the customers of a published snapshot, for an e-mail or ads tool.

Reads as the read-only analyst role (it can read the published schema and nothing else) with a
server-side cursor, and writes CSV or Parquet batch by batch: memory stays bounded by the batch,
whatever the number of customers.
"""

from __future__ import annotations

import csv
import os
import tempfile
import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from segments import queries
from segments.settings import ALL_FEATURES

FORMATS = ("csv", "parquet")
BATCH_ROWS = 10_000


def _check(conn: psycopg.Connection, as_of_date: dt.date, segments: list[str] | None) -> None:
    """Refuse a date that is not published or a segment name the snapshot does not have, saying which exist."""
    names = [row["segment_name"] for row in queries.fetch_all(
        conn, "segments/segment_definitions__select.sql", {"as_of_date": as_of_date})]
    if not names:
        raise LookupError(f"Snapshot {as_of_date} is not published, so there is nothing to export. "
                          "`segments status` lists the published snapshots.")
    unknown = sorted(set(segments or ()) - set(names))
    if unknown:
        raise LookupError(f"Snapshot {as_of_date} has no segment named {', '.join(map(repr, unknown))}; "
                          f"its segments are {', '.join(map(repr, names))}.")


def export(
    conn: psycopg.Connection, as_of_date: dt.date, output: Path, file_format: str,
    segments: list[str] | None = None, on_batch: Callable[[int], None] | None = None,
) -> int:
    """Write the snapshot's customers (of the given segments, or all) to `output`; return the rows written.

    The file appears complete or not at all: it is written beside `output` and renamed at the end.
    """
    if file_format not in FORMATS:
        raise ValueError(f"Unknown export format {file_format!r}; choose one of {', '.join(FORMATS)}.")
    _check(conn, as_of_date, segments)
    output.parent.mkdir(parents=True, exist_ok=True)
    # A partial file of its own: two exports to the same path never write into each other's.
    handle, partial_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(partial_name)
    os.chmod(partial, 0o644)  # as an ordinary new file (mkstemp makes it owner-only)
    write = _write_csv if file_format == "csv" else _write_parquet
    (statement,) = queries.statements("segments/audience_export.sql")
    try:
        with conn.transaction(), conn.cursor(name="audience_export") as cursor:
            cursor.execute(queries.compose(statement, {"features": ALL_FEATURES}),
                           {"as_of_date": as_of_date, "segments": segments})
            columns = [(column.name, column.type_code) for column in cursor.description]
            batches = iter(lambda: cursor.fetchmany(BATCH_ROWS), [])
            written = write(columns, batches, partial, on_batch or (lambda rows: None))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return written


Columns = list[tuple[str, int]]


def _write_csv(columns: Columns, batches: Iterator[list[tuple]], path: Path, on_batch: Callable[[int], None]) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _ in columns])
        for rows in batches:
            writer.writerows(rows)
            written += len(rows)
            on_batch(written)
    return written


def _write_parquet(columns: Columns, batches: Iterator[list[tuple]], path: Path, on_batch: Callable[[int], None]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # PostgreSQL type oids of the export's columns -> Parquet types (money as float64, as BI and ads tools read it).
    types = {25: pa.string(), 23: pa.int32(), 20: pa.int64(), 1700: pa.float64(), 701: pa.float64(), 1082: pa.date32()}
    schema = pa.schema([(name, types[type_code]) for name, type_code in columns])
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        for rows in batches:
            arrays = [
                pa.array([float(row[index]) if isinstance(row[index], decimal.Decimal) else row[index] for row in rows],
                         type=field.type)
                for index, field in enumerate(schema)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            written += len(rows)
            on_batch(written)
    return written
