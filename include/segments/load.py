"""Load retail invoice files into the source database in bulk, with COPY.

Reads the UCI Online Retail file as published (CSV, gzipped CSV or the original .xlsx) in
either column spelling (Online Retail or Online Retail II). A malformed file is refused with
its file, line and column, inside one transaction, so nothing is ever half-loaded.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd
import psycopg

from segments import queries

CHUNK_LINES = 100_000
# Contract column -> accepted header spellings (Online Retail, Online Retail II, snake case).
COLUMN_SPELLINGS = {
    "invoice_no": ("InvoiceNo", "Invoice", "invoice_no"),
    "stock_code": ("StockCode", "stock_code"),
    "description": ("Description", "description"),
    "quantity": ("Quantity", "quantity"),
    "invoice_date": ("InvoiceDate", "invoice_date"),
    "unit_price": ("UnitPrice", "Price", "unit_price"),
    "customer_id": ("CustomerID", "Customer ID", "customer_id"),
    "country": ("Country", "country"),
}
COPY_COLUMNS = ("invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country")
# Tried in order on the first rows; the first that parses all of them is used for the file.
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%m/%d/%y %H:%M",
)
Progress = Callable[[int], None]


class LoadError(ValueError):
    """The file cannot be loaded; the message names the file, line and column."""


def _header_map(path: Path, header: Iterable[str]) -> dict[str, str]:
    header = [str(name).strip() for name in header]
    mapping = {}
    for column, spellings in COLUMN_SPELLINGS.items():
        found = next((name for name in header if name in spellings), None)
        if found is None:
            raise LoadError(
                f"{path}: line 1: column {spellings[0]!r} is missing (also accepted: {', '.join(spellings[1:])}). "
                f"The header has {header}. Is this an Online Retail export?"
            )
        mapping[found] = column
    return mapping


def _csv_chunks(path: Path, encoding: str) -> Iterator[tuple[int, pd.DataFrame]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding=encoding, newline="") as handle:
        header = next(csv.reader([handle.readline()]), None)
        if not header:
            raise LoadError(f"{path}: line 1: the file is empty; expected a header row.")
        mapping = _header_map(path, header)
        reader = pd.read_csv(
            handle, header=None, names=[name.strip() for name in header], dtype=str,
            keep_default_na=False, chunksize=CHUNK_LINES,
        )
        first_line = 2
        for chunk in reader:
            yield first_line, chunk[list(mapping)].rename(columns=mapping)
            first_line += len(chunk)


def _xlsx_chunks(path: Path) -> Iterator[tuple[int, pd.DataFrame]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if not header:
            raise LoadError(f"{path}: line 1: the sheet is empty; expected a header row.")
        names = ["" if name is None else str(name).strip() for name in header]
        mapping = _header_map(path, names)
        buffer: list[tuple] = []
        first_line = 2
        for row in rows:
            buffer.append(row)
            if len(buffer) == CHUNK_LINES:
                yield first_line, _xlsx_frame(buffer, names, mapping)
                first_line += len(buffer)
                buffer = []
        if buffer:
            yield first_line, _xlsx_frame(buffer, names, mapping)
    finally:
        workbook.close()


def _xlsx_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _xlsx_frame(rows: list[tuple], names: list[str], mapping: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame([[_xlsx_cell(value) for value in row] for row in rows], columns=names, dtype=str)
    return frame[list(mapping)].rename(columns=mapping)


def _fail(path: Path, first_line: int, frame: pd.DataFrame, bad: pd.Series, column: str, expected: str) -> None:
    position = int(bad.to_numpy().argmax())
    value = frame[column].iloc[position]
    raise LoadError(
        f"{path}: line {first_line + position}: column {column!r} has {value!r}, expected {expected}. "
        "Nothing was loaded; fix the file and load it again."
    )


def _choose_date_format(dates: pd.Series) -> str:
    """The format that parses most of the first dates; values it cannot parse are reported later."""
    sample = dates.head(5000).str.strip()
    parsed = {
        date_format: pd.to_datetime(sample, format=date_format, errors="coerce").notna().sum()
        for date_format in DATE_FORMATS
    }
    return max(DATE_FORMATS, key=lambda date_format: parsed[date_format])


def _escape(text: pd.Series) -> pd.Series:
    """COPY text format: backslash escapes, and NULL for empty fields."""
    escaped = (
        text.str.replace("\\", "\\\\", regex=False)
        .str.replace("\t", "\\t", regex=False)
        .str.replace("\n", "\\n", regex=False)
        .str.replace("\r", "\\r", regex=False)
    )
    return escaped.where(text != "", "\\N")


def normalise(path: Path, first_line: int, frame: pd.DataFrame, date_format: str) -> pd.DataFrame:
    """Validate one chunk and cast it to the source contract, as COPY text fields."""
    for column in ("invoice_no", "stock_code"):
        frame[column] = frame[column].str.strip()
        missing = frame[column] == ""
        if missing.any():
            _fail(path, first_line, frame, missing, column, "a value")
    dates = pd.to_datetime(frame["invoice_date"].str.strip(), format=date_format, errors="coerce")
    if dates.isna().any():
        _fail(path, first_line, frame, dates.isna(), "invoice_date", f"a date in the format {date_format}")
    quantity = pd.to_numeric(frame["quantity"].str.strip(), errors="coerce")
    bad_quantity = quantity.isna() | (quantity != quantity.round())
    if bad_quantity.any():
        _fail(path, first_line, frame, bad_quantity, "quantity", "a whole number")
    price = pd.to_numeric(frame["unit_price"].str.strip(), errors="coerce")
    if price.isna().any():
        _fail(path, first_line, frame, price.isna(), "unit_price", "a number")
    # Spreadsheet exports turn the id 17850 into "17850.0"; the id is the integer part.
    customer = frame["customer_id"].str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return pd.DataFrame({
        "invoice_no": _escape(frame["invoice_no"]),
        "stock_code": _escape(frame["stock_code"]),
        "description": _escape(frame["description"]),
        "quantity": quantity.astype("int64").astype(str),
        "invoice_date": dates.dt.strftime("%Y-%m-%d %H:%M:%S"),
        "unit_price": frame["unit_price"].str.strip(),
        "customer_id": _escape(customer),
        "country": _escape(frame["country"]),
    })


def copy_text(frame: pd.DataFrame) -> str:
    """Rows of a normalised chunk as COPY text lines."""
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", header=False, index=False, quoting=csv.QUOTE_NONE, escapechar=None,
                 lineterminator="\n")
    return buffer.getvalue()


def file_chunks(path: Path) -> Iterator[str]:
    """The file's lines as COPY text chunks, validated; raises LoadError on the first bad value."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path}: no such file. Download the UCI Online Retail data (CC BY 4.0) and pass its path.")
    name = path.name.lower()
    if name.endswith((".xlsx", ".xlsm")):
        chunks = _xlsx_chunks(path)
    elif name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        chunks = _csv_chunks(path, _encoding(path))
    else:
        raise LoadError(f"{path}: unsupported file type; expected .csv, .csv.gz or .xlsx.")
    date_format = None
    for first_line, frame in chunks:
        date_format = date_format or _choose_date_format(frame["invoice_date"])
        yield copy_text(normalise(path, first_line, frame, date_format))


def _encoding(path: Path) -> str:
    """UTF-8 when the whole file decodes as such, else Windows-1252 (older UCI exports)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while block := handle.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def copy_into_source(
    conn: psycopg.Connection, chunks: Iterable[str], replace: bool, progress: Progress | None = None
) -> int:
    """Stream COPY text chunks into the source table in one transaction; return lines loaded."""
    (copy_statement,) = queries.statements("source/copy_invoice_lines.sql")
    lines = 0
    with conn.transaction():
        queries.execute(conn, "source/create_invoice_lines.sql")
        if replace:
            queries.execute(conn, "source/truncate_invoice_lines.sql")
        with conn.cursor() as cursor, cursor.copy(copy_statement) as copy:
            for chunk in chunks:
                copy.write(chunk)
                lines += chunk.count("\n")
                if progress:
                    progress(lines)
    return lines


def load_file(conn: psycopg.Connection, path: Path, replace: bool = True, progress: Progress | None = None) -> int:
    """Load one Online Retail file into the source; all of it or, on any error, none."""
    return copy_into_source(conn, file_chunks(Path(path)), replace, progress)
