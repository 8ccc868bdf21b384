"""Load retail invoice files into the source database in bulk, with COPY.

Reads the UCI Online Retail file as published (CSV, gzipped CSV or the original .xlsx) in
either column spelling (Online Retail or Online Retail II). The file is read three times: its
raw bytes (encoding, NUL bytes, a damaged gzip), its records (their shape, and every date, so
the date format is decided by the whole file), then its values, streamed into the source.
A malformed file is refused with its file, physical line and column; the load itself is one
transaction, so nothing is ever half-loaded.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg

from segments import queries
from segments.settings import SOURCE_COLUMNS

# Small enough that the rows held per chunk (Python lists) stay cheap for the garbage collector.
CHUNK_LINES = 25_000
# Source column (settings.SOURCE_COLUMNS, in order) -> accepted header spellings (Online Retail, Online Retail II, snake case).
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
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Candidates for a file's dates; the one that reads the most of them wins, and a tie between
# formats that read the same text differently (day-first and month-first) is refused.
DATE_FORMATS = (
    TIMESTAMP_FORMAT, "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%m/%d/%y %H:%M",
)
# The limits of the source columns: quantity integer, unit_price numeric(14, 4).
QUANTITY_RANGE = (-(2**31), 2**31 - 1)
PRICE_LIMIT = 10**10
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252"}
# NUL, and the bytes the decoder could not read (kept as lone surrogates by "surrogateescape").
UNREADABLE_CHARACTER = re.compile("[\x00\udc80-\udcff]")
COPY_SPECIAL = r"[\\\t\n\r]"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
LINE_BREAK = re.compile(r"\r\n?|\n")
Progress = Callable[[int], None]


class LoadError(ValueError):
    """The file cannot be loaded; the message names the file, line and column."""


@dataclass(frozen=True)
class Loaded:
    """What a load did: the lines it read, how it read their dates, what the source holds now."""

    lines: int
    date_format: str
    replaced: bool
    lines_in_source: int

    def summary(self) -> str:
        lines = f"{self.lines:,} line{'' if self.lines == 1 else 's'}"
        if self.replaced:
            return f"Replaced the source: {lines} now in retail.invoice_lines."
        return f"Appended {lines}; {self.lines_in_source:,} now in retail.invoice_lines."


@dataclass(frozen=True)
class Chunk:
    """Consecutive records of a file: where each starts, and its fields."""

    lines: list[int]
    rows: list[list[str]]


@dataclass(frozen=True)
class Layout:
    """How a file's records are read: its path, encoding (None for a workbook) and header."""

    path: Path
    encoding: str | None
    check_characters: bool  # the file has NUL or undecodable bytes: find them in the fields
    header_line: int
    header: list[str]

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """The data records with the physical line each starts on, their shape and characters checked."""
        records = _raw_records(self.path, self.encoding)
        next(records)  # the header
        for start, fields in records:
            if self.check_characters:
                self.check_fields(start, fields)
            if len(fields) != len(self.header):
                raise self.width_error(start, fields)
            yield start, fields

    def field_line(self, start: int, fields: list[str], position: int, offset: int = 0) -> int:
        """The physical line of a field's character: quoted fields before it may span lines (in a CSV)."""
        if self.encoding is None:
            return start
        before = [*fields[:position], fields[position][:offset]]
        return start + sum(len(LINE_BREAK.findall(text)) for text in before)

    def fail(self, start: int, fields: list[str], position: int, problem: str, offset: int = 0) -> LoadError:
        return LoadError(
            f"{self.path}: line {self.field_line(start, fields, position, offset)}: column {_column_label(self.header, position)} "
            f"{problem} Nothing was loaded; fix the file and load it again."
        )

    def check_fields(self, start: int, fields: list[str]) -> None:
        """Refuse a NUL byte, or a byte the file's encoding cannot read, naming its line and column."""
        for position, text in enumerate(fields):
            if found := UNREADABLE_CHARACTER.search(text):
                if found.group() == "\x00":
                    problem = "has a NUL byte. Remove it (a UTF-16 file? Save it as UTF-8)."
                else:
                    byte = ord(found.group()) - 0xDC00
                    problem = (f"has the byte 0x{byte:02x}, which is not {ENCODING_NAMES[self.encoding]} like the "
                               "rest of the file. Replace it, or save the file as UTF-8.")
                raise self.fail(start, fields, position, problem, found.start())

    def width_error(self, start: int, fields: list[str]) -> LoadError:
        width = len(self.header)
        if len(fields) < width:
            missing = ", ".join(repr(name) for name in self.header[len(fields):])
            problem = f"has {len(fields)} fields, the header {width}: {missing} missing. Fill in the missing values"
        else:
            problem = (f"has {len(fields)} fields, {len(fields) - width} more than the header's {width}. "
                       "A comma inside a value? Put that value in double quotes")
        spans = sum(len(LINE_BREAK.findall(text)) for text in fields)
        if spans:
            problem += f" (the record runs on to line {start + spans}: is a quote opened on line {start} never closed?)"
        return LoadError(f"{self.path}: line {start}: the line {problem}. Nothing was loaded.")


@dataclass(frozen=True)
class RetailFile:
    """A file whose bytes and records were read once and found loadable, and how to read its values."""

    layout: Layout
    positions: dict[str, int]  # contract column -> field position
    date_format: str
    timestamps: dict[str, str]  # every date text of the file the format reads -> its timestamp

    def chunks(self) -> Iterator[Chunk]:
        lines, rows = [], []
        for line, fields in self.layout.records():
            lines.append(line)
            rows.append(fields)
            if len(rows) == CHUNK_LINES:
                yield Chunk(lines, rows)
                lines, rows = [], []
        if rows:
            yield Chunk(lines, rows)

    def copy_chunks(self) -> Iterator[str]:
        """The file's lines as COPY text chunks, validated; raises LoadError on the first bad value."""
        for chunk in self.chunks():
            yield copy_text(normalise(self, chunk))


def _column_label(header: list[str], position: int) -> str:
    return repr(header[position]) if position < len(header) else f"{position + 1} (beyond the header)"


def _gzipped(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if _gzipped(path) else open(path, "rb")


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    # newline="" leaves line ends to the csv module, which keeps them inside quoted fields.
    return io.TextIOWrapper(_open_bytes(path), encoding=encoding, errors="surrogateescape", newline="")


def _undecodable_offset(path: Path, encoding: str) -> tuple[int | None, bool]:
    """Where the first byte the encoding cannot read is (None: nowhere), and whether a NUL byte occurs.

    A gzip that is cut off or damaged is refused here, naming the line where its data stops.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = newlines = 0
    undecodable, has_nul = None, False
    with _open_bytes(path) as handle:
        try:
            # read1 hands over each block as soon as it is decompressed, so a cut-off gzip yields all it has.
            while block := handle.read1(1 << 20):
                has_nul = has_nul or b"\x00" in block
                if undecodable is None:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as error:
                        undecodable = offset + error.start
                offset += len(block)
                newlines += block.count(b"\n")
            if undecodable is None:
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            undecodable = offset
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise LoadError(
                f"{path}: line {newlines + 1}: the gzip data is damaged or cut off here ({error}). "
                "Download or compress the file again; nothing was loaded."
            ) from None
    return undecodable, has_nul


def _text_encoding(path: Path) -> tuple[str, bool]:
    """The file's encoding, and whether its fields hold NUL or undecodable bytes to be found and refused.

    UTF-8 (a byte-order mark is dropped) when it reads the whole file, else Windows-1252 (older UCI
    exports); when neither does, the one that reads further, so the byte reported is the stray one.
    """
    utf8_undecodable, has_nul = _undecodable_offset(path, "utf-8")
    if utf8_undecodable is None:
        return "utf-8-sig", has_nul
    cp1252_undecodable, _ = _undecodable_offset(path, "cp1252")
    if cp1252_undecodable is None:
        return "cp1252", has_nul
    return ("utf-8-sig" if utf8_undecodable >= cp1252_undecodable else "cp1252"), True


def _raw_records(path: Path, encoding: str | None) -> Iterator[tuple[int, list[str]]]:
    """Every non-blank record, header first, with the physical line (or sheet row) it starts on."""
    return _workbook_records(path) if encoding is None else _csv_records(path, encoding)


def _csv_records(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    with _open_text(path, encoding) as handle:
        record: list[str] = []  # the physical lines of the record being read, to find a misplaced quote in
        reader = csv.reader(_kept_lines(handle, record), strict=True)
        end = 0
        try:
            for fields in reader:
                start, end = end + 1, reader.line_num
                # csv takes a quote inside an unquoted field for text; the file is malformed, and values read past
                # it may be shifted. Only records with a quote in their text need their raw lines looked at.
                if '"' in "".join(fields) and (misplaced := _misplaced_quote(record, start)):
                    raise _quote_error(path, encoding, misplaced)
                record.clear()
                if fields:
                    yield start, fields
        except csv.Error as error:
            if misplaced := _misplaced_quote(record, end + 1):
                raise _quote_error(path, encoding, misplaced) from None
            raise LoadError(f"{path}: line {end + 1}: {error}. Fix that line; nothing was loaded.") from None


def _kept_lines(lines: Iterable[str], kept: list[str]) -> Iterator[str]:
    for line in lines:
        kept.append(line)
        yield line


def _quote_error(path: Path, encoding: str, misplaced: tuple[int, int, str]) -> LoadError:
    line, position, trouble = misplaced
    with _open_text(path, encoding) as handle:
        header = [name.strip() for name in next(csv.reader([handle.readline()]), [])]
    return LoadError(
        f"{path}: line {line}: column {_column_label(header, position)}: {trouble}. Enclose the whole value "
        "in double quotes, from the comma before it to the comma after it, and double any quote that is part of the "
        "text (\"\"). Nothing was loaded."
    )


def _misplaced_quote(lines: Iterable[str], first_line: int) -> tuple[int, int, str] | None:
    """The first quote of one record that breaks the CSV rules: the line it opens on, its field, what is wrong.

    A field's quotes must enclose all of it: a quote in the middle of a field, text after a closing
    quote and a quote still open where the record ends are all refused.
    """
    position, field_start, opened, closing = 0, True, None, False
    number = first_line
    for number, text in enumerate(lines, first_line):
        for character in text:
            if opened and not closing:
                closing = character == '"'
            elif opened and character == '"':  # a doubled quote, part of the text
                closing = False
            elif opened and character not in ",\r\n":
                ends = "" if number == opened[0] else f" on line {number}"
                return *opened, f"the quoted field that opens here has text after its closing quote{ends}"
            elif character == '"':
                if not field_start:
                    return number, position, "a quote opens here in the middle of the field"
                opened = (number, position)
            else:
                opened, closing = None, False
                field_start = character in ",\r\n"
                position += character == ","
    if opened and not closing:
        return *opened, (f"the quoted field that opens here is never closed (still open on line {number}, "
                         "where reading stopped)")
    return None


def _workbook_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as error:
        raise LoadError(
            f"{path}: not an Excel workbook ({error}). Save it from Excel as .xlsx again, or pass it as a .csv."
        ) from None
    try:
        # Read-only sheets pad every row to the sheet's width, so rows and header line up.
        for number, row in enumerate(workbook.worksheets[0].iter_rows(values_only=True), 1):
            if any(value is not None for value in row):
                yield number, [_xlsx_cell(value) for value in row]
    finally:
        workbook.close()


def _xlsx_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime(TIMESTAMP_FORMAT)
    return str(value)


def _column_positions(layout: Layout) -> dict[str, int]:
    positions = {}
    for column, spellings in COLUMN_SPELLINGS.items():
        found = [position for position, name in enumerate(layout.header) if name in spellings]
        if not found:
            raise LoadError(
                f"{layout.path}: line {layout.header_line}: column {spellings[0]!r} is missing "
                f"(also accepted: {', '.join(spellings[1:])}). The header has {layout.header}. "
                "Is this an Online Retail export?"
            )
        if len(found) > 1:
            names = " and ".join(f"{layout.header[position]!r} (field {position + 1})" for position in found)
            raise LoadError(f"{layout.path}: line {layout.header_line}: the header names the {column} column twice: "
                            f"{names}. Remove or rename one of them; nothing was loaded.")
        positions[column] = found[0]
    return positions


def _date_timestamps(layout: Layout, first_lines: dict[str, int], column: str, date_format: str | None
                     ) -> tuple[str, dict[str, str]]:
    """The date format of a whole file (given, or the one that reads most of its dates) and what it reads.

    Refuses a file whose dates read equally well in two formats that disagree (01/12/2010 is
    1 December day-first, 12 January month-first) when no date of the file tells them apart.
    """
    texts = pd.Series(list(first_lines), dtype=object)
    parsed = {
        candidate: pd.to_datetime(texts, format=candidate, errors="coerce")
        for candidate in ((date_format,) if date_format else DATE_FORMATS)
    }
    most = max(dates.notna().sum() for dates in parsed.values())
    tied = [candidate for candidate, dates in parsed.items() if dates.notna().sum() == most]
    chosen = tied[0]
    for other in tied[1:]:
        differs = (parsed[chosen] != parsed[other]) & parsed[chosen].notna() & parsed[other].notna()
        if differs.any():
            text = texts[differs].iloc[0]
            readings = " or ".join(f"{parsed[name][differs].iloc[0]:%Y-%m-%d %H:%M} ({name})" for name in (chosen, other))
            raise LoadError(
                f"{layout.path}: line {first_lines[text]}: column {column!r} has {text!r}, which reads as {readings}, "
                f"and no date in the file tells which is meant. Pass the format, e.g. --date-format \"{other}\"."
            )
    readable = parsed[chosen].notna()
    return chosen, dict(zip(texts[readable], parsed[chosen][readable].dt.strftime(TIMESTAMP_FORMAT)))


def _layout(path: Path) -> Layout:
    """How to read a file's records: its type, its encoding (from its raw bytes) and its header."""
    if not path.exists():
        raise LoadError(f"{path}: no such file. Download the UCI Online Retail data (CC BY 4.0) and pass its path.")
    if path.is_dir():
        raise LoadError(f"{path}: a folder, not a file. Pass the Online Retail file inside it (.csv, .csv.gz or .xlsx).")
    name = path.name.lower()
    if name.endswith((".xlsx", ".xlsm")):
        encoding, check_characters = None, False
    elif name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        encoding, check_characters = _text_encoding(path)
    else:
        raise LoadError(f"{path}: unsupported file type; expected .csv, .csv.gz or .xlsx.")
    records = _raw_records(path, encoding)
    try:
        header_line, header = next(records, (1, None))
    finally:
        records.close()
    if header is None:
        raise LoadError(f"{path}: line 1: the file is empty; expected a header row. Nothing was loaded.")
    layout = Layout(path, encoding, check_characters, header_line, [name.strip() for name in header])
    if check_characters:
        layout.check_fields(header_line, header)
    return layout


def read_file(path: Path, date_format: str | None = None) -> RetailFile:
    """Read a file's bytes and records once: refuse a malformed file early, and decide its date format."""
    layout = _layout(Path(path))
    positions = _column_positions(layout)
    date_position = positions["invoice_date"]
    first_lines: dict[str, int] = {}  # each distinct date text -> the line it first appears on
    for start, fields in layout.records():
        first_lines.setdefault(fields[date_position].strip(), start)
    if not first_lines:
        raise LoadError(f"{layout.path}: line {layout.header_line}: the file has a header but no lines after it. "
                        "Pass a file with invoice lines; the source was left as it is.")
    date_format, timestamps = _date_timestamps(layout, first_lines, layout.header[date_position], date_format)
    return RetailFile(layout, positions, date_format, timestamps)


def _first_bad(retail_file: RetailFile, chunk: Chunk, frame: pd.DataFrame, bad: pd.Series, column: str,
               expected: str) -> LoadError:
    index = int(bad.to_numpy().argmax())
    return retail_file.layout.fail(chunk.lines[index], chunk.rows[index], retail_file.positions[column],
                                   f"has {frame[column].iloc[index]!r}, expected {expected}.")


def _escape(text: pd.Series) -> pd.Series:
    """COPY text format: backslash escapes, and NULL for empty fields."""
    # Few values need escaping; translating only those keeps a 500,000-line load fast.
    special = text.str.contains(COPY_SPECIAL)
    escaped = text.mask(special, text[special].str.translate(COPY_ESCAPES))
    return escaped.where(text != "", "\\N")


def normalise(retail_file: RetailFile, chunk: Chunk) -> pd.DataFrame:
    """Validate one chunk and cast it to the source contract, as COPY text fields."""
    fields = list(zip(*chunk.rows))
    frame = pd.DataFrame({column: pd.Series(fields[position], dtype=str)
                          for column, position in retail_file.positions.items()})
    for column in ("invoice_no", "stock_code"):
        frame[column] = frame[column].str.strip()
        missing = frame[column] == ""
        if missing.any():
            raise _first_bad(retail_file, chunk, frame, missing, column, "a value")
    timestamps = frame["invoice_date"].str.strip().map(retail_file.timestamps)
    if timestamps.isna().any():
        raise _first_bad(retail_file, chunk, frame, timestamps.isna(), "invoice_date",
                         f"a date in the format {retail_file.date_format} (if the file's dates are in another, "
                         "pass it with --date-format)")
    quantity = pd.to_numeric(frame["quantity"].str.strip(), errors="coerce").astype("float64")
    bad_quantity = ~quantity.between(*QUANTITY_RANGE) | (quantity != quantity.round())
    if bad_quantity.any():
        raise _first_bad(retail_file, chunk, frame, bad_quantity, "quantity",
                         f"a whole number from {QUANTITY_RANGE[0]:,} to {QUANTITY_RANGE[1]:,}")
    price = pd.to_numeric(frame["unit_price"].str.strip(), errors="coerce").astype("float64").round(4)
    bad_price = ~(price.abs() < PRICE_LIMIT)
    if bad_price.any():
        raise _first_bad(retail_file, chunk, frame, bad_price, "unit_price",
                         f"a number below {PRICE_LIMIT:,} in size (at most 10 digits before the point, 4 after)")
    # Spreadsheet exports turn the id 17850 into "17850.0"; the id is the integer part.
    customer = frame["customer_id"].str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return pd.DataFrame({
        "invoice_no": _escape(frame["invoice_no"]),
        "stock_code": _escape(frame["stock_code"]),
        "description": _escape(frame["description"]),
        "quantity": quantity.astype("int64").astype(str),
        "invoice_date": timestamps,
        "unit_price": price.astype(str),
        "customer_id": _escape(customer),
        "country": _escape(frame["country"]),
    })[list(SOURCE_COLUMNS)]


def copy_text(frame: pd.DataFrame) -> str:
    """Rows of a normalised chunk as COPY text lines."""
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", header=False, index=False, quoting=csv.QUOTE_NONE, escapechar=None,
                 lineterminator="\n")
    return buffer.getvalue()


def file_chunks(path: Path, date_format: str | None = None) -> Iterator[str]:
    """A file's lines as COPY text chunks, validated; raises LoadError on the first bad value."""
    return read_file(path, date_format).copy_chunks()


def copy_into_source(
    conn: psycopg.Connection, chunks: Iterable[str], replace: bool, progress: Progress | None = None,
    planted: Iterable[tuple[str, str]] = (),
) -> int:
    """Stream COPY text chunks into the source table in one transaction; return lines loaded.

    Replacing the source forgets any planted truth; `planted` (customer_id, archetype) rows are
    the truth of the new lines (`segments generate --mix`).
    """
    (copy_statement,) = queries.statements("source/copy_invoice_lines.sql")
    lines = 0
    with conn.transaction():
        queries.execute(conn, "source/create_invoice_lines.sql")
        if replace:
            queries.execute(conn, "source/truncate_invoice_lines.sql")
            queries.execute(conn, "source/drop_customer_archetypes.sql")
        _copy_planted_truth(conn, planted)
        with conn.cursor() as cursor, cursor.copy(queries.compose(copy_statement, {"source_columns": SOURCE_COLUMNS})) as copy:
            for chunk in chunks:
                copy.write(chunk)
                lines += chunk.count("\n")
                if progress:
                    progress(lines)
    return lines


def _copy_planted_truth(conn: psycopg.Connection, planted: Iterable[tuple[str, str]]) -> None:
    rows = list(planted)
    if not rows:
        return
    queries.execute(conn, "source/create_customer_archetypes.sql")
    (copy_statement,) = queries.statements("source/copy_customer_archetypes.sql")
    with conn.cursor() as cursor, cursor.copy(copy_statement) as copy:
        for row in rows:
            copy.write_row(row)


def load_file(
    conn: psycopg.Connection, path: Path, replace: bool = True, progress: Progress | None = None,
    date_format: str | None = None,
) -> Loaded:
    """Load one Online Retail file into the source, replacing it or appending; all of it or, on any error, none."""
    retail_file = read_file(Path(path), date_format)
    lines = copy_into_source(conn, retail_file.copy_chunks(), replace, progress)
    (counted,) = queries.fetch_all(conn, "source/count_invoice_lines.sql")
    return Loaded(lines, retail_file.date_format, replace, counted["lines"])
