"""Loading Online Retail files into the source: formats, spellings, and refusing bad files."""

from __future__ import annotations

import gzip
import random
import re
import zlib

import pytest
from openpyxl import Workbook

from segments.tools import cli, load

ORIGINAL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
RETAIL_II_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom",
    'C536379,D,"Discount, staff",-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom',
    "536370,22728,ALARM CLOCK BAKELIKE PINK CAFÉ NOËL,24,2010-12-01 08:45:00,3.75,12583,France",
]


def source_rows(conn):
    return conn.execute(
        "select invoice_no, stock_code, description, quantity, invoice_date::text, unit_price::float8, customer_id, country "
        "from retail.invoice_lines order by invoice_no"
    ).fetchall()


def csv_rows(rows, header=ORIGINAL_HEADER, ending="\n"):
    return "\n".join([header, *rows]) + ending


def write_csv(path, header, rows, encoding="utf-8"):
    path.write_text(csv_rows(rows, header), encoding=encoding)
    return path


def test_original_spelling_strips_float_customer_ids_and_keeps_non_ascii(source, tmp_path):
    load.load_file(source, write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, ROWS))
    rows = {row[0]: row for row in source_rows(source)}
    assert rows["536365"][6] == "17850"
    assert rows["536366"][6] is None
    assert rows["536370"][2] == "ALARM CLOCK BAKELIKE PINK CAFÉ NOËL"
    assert rows["C536379"][2] == "Discount, staff" and rows["C536379"][3] == -1
    assert rows["536365"][4] == "2010-12-01 08:26:00"


def test_online_retail_ii_spelling_loads_the_same_lines(source, tmp_path):
    load.load_file(source, write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, ROWS))
    original = source_rows(source)
    load.load_file(source, write_csv(tmp_path / "retail_ii.csv", RETAIL_II_HEADER, ROWS))
    assert source_rows(source) == original


def test_gzipped_and_windows_1252_files_load(source, tmp_path):
    plain = write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, ROWS, encoding="cp1252")
    zipped = tmp_path / "retail.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert load.load_file(source, zipped).lines == 4
    assert "ALARM CLOCK BAKELIKE PINK CAFÉ NOËL" in [row[2] for row in source_rows(source)]


def test_us_style_dates_as_in_the_kaggle_export_load(source, tmp_path):
    rows = [ROWS[0].replace("2010-12-01 08:26:00", "12/1/2010 8:26"),
            ROWS[1].replace("2010-12-01 08:28:00", "12/13/2010 8:28")]
    load.load_file(source, write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, rows))
    assert [row[4] for row in source_rows(source)] == ["2010-12-01 08:26:00", "2010-12-13 08:28:00"]


def test_original_xlsx_loads(source, tmp_path):
    import datetime as dt

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ORIGINAL_HEADER.split(","))
    sheet.append(["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, dt.datetime(2010, 12, 1, 8, 26), 2.55, 17850.0, "United Kingdom"])
    sheet.append([536370, 22728, "CAFÉ NOËL", 24, dt.datetime(2010, 12, 1, 8, 45), 3.75, None, "France"])
    workbook.save(tmp_path / "Online Retail.xlsx")
    assert load.load_file(source, tmp_path / "Online Retail.xlsx").lines == 2
    rows = source_rows(source)
    assert rows[0][6] == "17850" and rows[1][1] == "22728" and rows[1][2] == "CAFÉ NOËL" and rows[1][6] is None


def test_missing_column_is_refused_naming_file_line_and_column(source, tmp_path):
    path = write_csv(tmp_path / "bad.csv", ORIGINAL_HEADER.replace(",UnitPrice", ""), [])
    with pytest.raises(load.LoadError, match=r"bad\.csv: line 1: column 'UnitPrice' is missing"):
        load.load_file(source, path)


@pytest.mark.parametrize(("broken", "column"), [
    ("2010-13-45 08:26:00", "InvoiceDate"),
    ("six", "Quantity"),
    ("2.5x", "UnitPrice"),
])
def test_bad_value_is_refused_with_its_line_and_nothing_is_half_loaded(source, tmp_path, broken, column):
    load.load_file(source, write_csv(tmp_path / "good.csv", ORIGINAL_HEADER, ROWS))
    original = {"InvoiceDate": "2010-12-01 08:45:00", "Quantity": ",24,", "UnitPrice": "3.75"}[column]
    replacement = {"InvoiceDate": broken, "Quantity": f",{broken},", "UnitPrice": broken}[column]
    rows = [*ROWS[:3], ROWS[3].replace(original, replacement)]
    with pytest.raises(load.LoadError, match=rf"bad\.csv: line 5: column '{column}' has"):
        load.load_file(source, write_csv(tmp_path / "bad.csv", ORIGINAL_HEADER, rows))
    assert len(source_rows(source)) == 4, "the failed load must leave the previous source untouched"


def segments_load(capsys, *arguments):
    """Run `segments load` as a user does; its exit status, standard output and standard error."""
    status = cli.main(["load", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_refused(capsys, source, path, message, *options):
    """`segments load` refuses the file in one line matching `message`, and leaves the source as it was."""
    before = source_rows(source)
    status, _, err = segments_load(capsys, path, *options)
    refusal = err[err.index("segments load: "):]
    assert status == 1 and refusal.count("\n") == 1, err
    assert re.match(rf"segments load: {re.escape(str(path))}: {message}", refusal), refusal
    assert "Traceback" not in err
    assert source_rows(source) == before, "a refused load must leave the source as it was"
    return refusal


@pytest.fixture
def seeded(source, tmp_path):
    """The source holding the four sample lines, to check that refusals leave it alone."""
    load.load_file(source, write_csv(tmp_path / "good.csv", ORIGINAL_HEADER, ROWS))
    return source


def test_header_only_file_is_refused_and_the_source_kept(seeded, tmp_path, capsys):
    path = write_csv(tmp_path / "header_only.csv", ORIGINAL_HEADER, [])
    assert_refused(capsys, seeded, path, r"line 1: the file has a header but no lines after it\. Pass a file")


UNBALANCED_QUOTES = {
    "runs to the end": (csv_rows([ROWS[0], ROWS[1].replace("HAND WARMER", '"HAND WARMER'), ROWS[3]]),
                        r"line 3: column 'Description': the quoted field that opens here is never closed "
                        r"\(still open on line 4"),
    "closes in a later line": (csv_rows([ROWS[0], ROWS[1].replace("HAND WARMER", '"HAND WARMER'), ROWS[3], ROWS[2]]),
                               r"line 3: column 'Description': the quoted field that opens here has text after its "
                               r"closing quote on line 5"),
    "runs to the end, no last line end": (csv_rows([ROWS[0], ROWS[1].replace(",United", ',"United')], ending=""),
                                          r"line 3: column 'Country': the quoted field that opens here is never closed "
                                          r"\(still open on line 3"),
    "opens mid-field": (csv_rows([ROWS[0], ROWS[1].replace("HAND WARMER", 'HAND "WARMER'), ROWS[3]]),
                        r"line 3: column 'Description': a quote opens here in the middle of the field"),
    # Found by the property test: a quote added before an empty field pairs with the next field's opening quote,
    # which leaves that field's closing quote mid-field, at the end of a file without a last line end.
    "opens mid-field at the end of the file": (
        csv_rows(['0,0,,0,2000-01-01 00:00:00,0.0000,",",\t"'], ending=""),
        r"line 2: column 'Country': a quote opens here in the middle of the field"),
}


@pytest.mark.parametrize("case", UNBALANCED_QUOTES)
def test_unbalanced_quote_is_refused_naming_the_line_it_opened_on(seeded, tmp_path, capsys, case):
    content, message = UNBALANCED_QUOTES[case]
    path = tmp_path / "quote.csv"
    path.write_text(content)
    assert_refused(capsys, seeded, path, message)


@pytest.mark.parametrize(("date_format", "telling_date", "telling_timestamp"), [
    ("%d/%m/%Y %H:%M", "13/12/2010 09:41", "2010-12-13 09:41:00"),
    ("%m/%d/%Y %H:%M", "12/13/2010 09:41", "2010-12-13 09:41:00"),
], ids=["day first", "month first"])
def test_date_order_is_detected_from_every_date_of_the_file(source, tmp_path, capsys, date_format, telling_date,
                                                            telling_timestamp):
    ambiguous = ROWS[0].replace("2010-12-01 08:26:00", "01/12/2010 08:26")
    # More ambiguous lines than one chunk (and than any sample of the first lines) before the one that tells.
    rows = [ambiguous] * (load.CHUNK_LINES + 1) + [ROWS[2].replace("2010-12-01 09:41:00", telling_date)]
    status, out, _ = segments_load(capsys, write_csv(tmp_path / "dates.csv", ORIGINAL_HEADER, rows))
    assert status == 0
    assert f"Dates read as {date_format} (detected from every date in the file)." in out
    first = "2010-12-01 08:26:00" if date_format.startswith("%d") else "2010-01-12 08:26:00"
    dates = source.execute("select invoice_date::text, count(*) from retail.invoice_lines group by 1 order by 1").fetchall()
    assert dates == sorted([(first, load.CHUNK_LINES + 1), (telling_timestamp, 1)])


def test_dates_that_read_both_ways_are_refused_unless_the_format_is_given(seeded, tmp_path, capsys):
    rows = [ROWS[0].replace("2010-12-01 08:26:00", "01/12/2010 08:26"),
            ROWS[1].replace("2010-12-01 08:28:00", "02/12/2010 08:28")]
    path = write_csv(tmp_path / "ambiguous.csv", ORIGINAL_HEADER, rows)
    assert_refused(capsys, seeded, path,
                   r"line 2: column 'InvoiceDate' has '01/12/2010 08:26', which reads as 2010-01-12 08:26 \(%m/%d/%Y %H:%M\) "
                   r"or 2010-12-01 08:26 \(%d/%m/%Y %H:%M\), and no date in the file tells which is meant\. "
                   r"Pass the format, e\.g\. --date-format")
    status, out, _ = segments_load(capsys, path, "--date-format", "%d/%m/%Y %H:%M")
    assert status == 0 and "Dates read as %d/%m/%Y %H:%M (as given by --date-format)." in out
    assert [row[4] for row in source_rows(seeded)] == ["2010-12-01 08:26:00", "2010-12-02 08:28:00"]


def replaced_row(number, old, new):
    """The sample lines with one text replaced in line `number` (the file's line; the header is line 1)."""
    rows = list(ROWS)
    rows[number - 2] = rows[number - 2].replace(old, new)
    return rows


def csv_bytes(rows, header=ORIGINAL_HEADER):
    return csv_rows(rows, header).encode()


def many_lines_gzip(cut):
    """A gzipped file of 3,000 lines, its compressed bytes cut to the first `cut` share."""
    compressed = gzip.compress(csv_bytes(ROWS * 750), mtime=0)
    return compressed[:int(len(compressed) * cut)]


BROKEN_FILES = {
    "NUL byte": ("retail.csv", csv_bytes(replaced_row(3, "HAND WARMER", "HAND\x00WARMER")),
                 r"line 3: column 'Description' has a NUL byte\. Remove it"),
    "random bytes as .csv.gz": ("retail.csv.gz", random.Random(7).randbytes(600),
                                r"line 1: the gzip data is damaged or cut off here \(.*\)\. Download or compress"),
    "xlsx that is no workbook": ("Online Retail.xlsx", csv_bytes(ROWS),
                                 r"not an Excel workbook \(.*\)\. Save it from Excel as \.xlsx again"),
    "quantity beyond integer": ("retail.csv", csv_bytes(replaced_row(5, ",24,", ",2147483648,")),
                                r"line 5: column 'Quantity' has '2147483648', expected a whole number from "
                                r"-2,147,483,648 to 2,147,483,647\."),
    "price 1e12": ("retail.csv", csv_bytes(replaced_row(5, "3.75", "1e12")), r"line 5: column 'UnitPrice' has '1e12'"),
    "price inf": ("retail.csv", csv_bytes(replaced_row(5, "3.75", "inf")), r"line 5: column 'UnitPrice' has 'inf'"),
    "price nan": ("retail.csv", csv_bytes(replaced_row(5, "3.75", "nan")), r"line 5: column 'UnitPrice' has 'nan'"),
    "byte 0x81 in UTF-8": ("retail.csv", csv_bytes(ROWS).replace(b"ALARM CLOCK", b"ALARM \x81CLOCK"),
                           r"line 5: column 'Description' has the byte 0x81, which is not UTF-8 like the rest of the "
                           r"file\. Replace it"),
    "duplicated header name": ("retail.csv", csv_bytes([row + ",UK" for row in ROWS], ORIGINAL_HEADER + ",Country"),
                               r"line 1: the header names the country column twice: 'Country' \(field 8\) and "
                               r"'Country' \(field 9\)\. Remove or rename one"),
    "extra field": ("retail.csv", csv_bytes(replaced_row(4, ",-1,", ",-1,1,")),
                    r"line 4: the line has 9 fields, 1 more than the header's 8\. A comma inside a value\? "
                    r"Put that value in double quotes\."),
    "missing field": ("retail.csv", csv_bytes(replaced_row(5, ",France", "")),
                      r"line 5: the line has 7 fields, the header 8: 'Country' missing\. Fill in the missing values\."),
}


@pytest.mark.parametrize("case", BROKEN_FILES)
def test_broken_file_is_refused_in_one_line_naming_file_line_and_column(seeded, tmp_path, capsys, case):
    name, content, message = BROKEN_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    assert_refused(capsys, seeded, path, message)


def test_truncated_gzip_is_refused_naming_the_line_where_its_data_stops(seeded, tmp_path, capsys):
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(many_lines_gzip(cut=0.5))
    last_line = zlib.decompressobj(wbits=31).decompress(path.read_bytes()).count(b"\n") + 1
    assert_refused(capsys, seeded, path, rf"line {last_line}: the gzip data is damaged or cut off here")


def test_folder_given_as_path_is_refused(seeded, tmp_path, capsys):
    folder = tmp_path / "retail.csv"
    folder.mkdir()
    assert_refused(capsys, seeded, folder, r"a folder, not a file\. Pass the Online Retail file inside it")


@pytest.mark.parametrize(("rows", "line"), [
    ([ROWS[0], "", '536367,22632,"HAND WARMER\nRED POLKA DOT",6,2010-12-01 08:34:00,1.85,,United Kingdom',
      ROWS[3].replace(",24,", ",six,")], 6),
    ([ROWS[0], '536367,22632,"HAND WARMER\nRED POLKA DOT",six,2010-12-01 08:34:00,1.85,,United Kingdom'], 4),
], ids=["after a blank line and a two-line record", "inside a two-line record"])
def test_lines_are_counted_as_physical_lines(seeded, tmp_path, capsys, rows, line):
    path = write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, rows)
    assert_refused(capsys, seeded, path, rf"line {line}: column 'Quantity' has 'six', expected a whole number")


def test_utf8_byte_order_mark_is_accepted(source, tmp_path, capsys):
    status, _, _ = segments_load(capsys, write_csv(tmp_path / "bom.csv", ORIGINAL_HEADER, ROWS, encoding="utf-8-sig"))
    assert status == 0 and len(source_rows(source)) == 4
    refusal = assert_refused(capsys, source, write_csv(tmp_path / "bom_bad.csv", "\ufeffInvoiceNo,StockCode", ROWS),
                             r"line 1: column 'Description' is missing")
    assert "\\ufeff" not in refusal and "\ufeff" not in refusal


def test_load_says_whether_it_replaced_the_source_or_appended_to_it(source, tmp_path, capsys):
    path = write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, ROWS)
    status, out, _ = segments_load(capsys, path)
    assert status == 0 and "Replaced the source: 4 lines now in retail.invoice_lines." in out
    status, out, _ = segments_load(capsys, write_csv(tmp_path / "more.csv", ORIGINAL_HEADER, ROWS[:2]), "--append")
    assert status == 0 and "Appended 2 lines; 6 now in retail.invoice_lines." in out
    status, out, _ = segments_load(capsys, path)
    assert status == 0 and "Replaced the source: 4 lines now in retail.invoice_lines." in out
    assert len(source_rows(source)) == 4
