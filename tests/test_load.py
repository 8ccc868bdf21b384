"""Loading Online Retail files into the source: formats, spellings, and refusing bad files."""

from __future__ import annotations

import gzip

import pytest
from openpyxl import Workbook

from segments import load

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


def write_csv(path, header, rows, encoding="utf-8"):
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


@pytest.mark.real_data
def test_real_file_loads_exactly_541909_lines(source, real_data):
    assert load.load_file(source, real_data) == 541_909
    assert source.execute("select count(*) from retail.invoice_lines").fetchone()[0] == 541_909


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
    assert load.load_file(source, zipped) == 4
    assert "ALARM CLOCK BAKELIKE PINK CAFÉ NOËL" in [row[2] for row in source_rows(source)]


def test_us_style_dates_as_in_the_kaggle_export_load(source, tmp_path):
    rows = [row.replace("2010-12-01 08:26:00", "12/1/2010 8:26") for row in ROWS[:1]]
    load.load_file(source, write_csv(tmp_path / "retail.csv", ORIGINAL_HEADER, rows))
    assert source_rows(source)[0][4] == "2010-12-01 08:26:00"


def test_original_xlsx_loads(source, tmp_path):
    import datetime as dt

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ORIGINAL_HEADER.split(","))
    sheet.append(["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, dt.datetime(2010, 12, 1, 8, 26), 2.55, 17850.0, "United Kingdom"])
    sheet.append([536370, 22728, "CAFÉ NOËL", 24, dt.datetime(2010, 12, 1, 8, 45), 3.75, None, "France"])
    workbook.save(tmp_path / "Online Retail.xlsx")
    assert load.load_file(source, tmp_path / "Online Retail.xlsx") == 2
    rows = source_rows(source)
    assert rows[0][6] == "17850" and rows[1][1] == "22728" and rows[1][2] == "CAFÉ NOËL" and rows[1][6] is None


def test_missing_column_is_refused_naming_file_line_and_column(source, tmp_path):
    path = write_csv(tmp_path / "bad.csv", ORIGINAL_HEADER.replace(",UnitPrice", ""), [])
    with pytest.raises(load.LoadError, match=r"bad\.csv: line 1: column 'UnitPrice' is missing"):
        load.load_file(source, path)


@pytest.mark.parametrize(("broken", "column"), [
    ("2010-13-45 08:26:00", "invoice_date"),
    ("six", "quantity"),
    ("2.5x", "unit_price"),
])
def test_bad_value_is_refused_with_its_line_and_nothing_is_half_loaded(source, tmp_path, broken, column):
    load.load_file(source, write_csv(tmp_path / "good.csv", ORIGINAL_HEADER, ROWS))
    original = {"invoice_date": "2010-12-01 08:45:00", "quantity": ",24,", "unit_price": "3.75"}[column]
    replacement = {"invoice_date": broken, "quantity": f",{broken},", "unit_price": broken}[column]
    rows = [*ROWS[:3], ROWS[3].replace(original, replacement)]
    with pytest.raises(load.LoadError, match=rf"bad\.csv: line 5: column '{column}' has"):
        load.load_file(source, write_csv(tmp_path / "bad.csv", ORIGINAL_HEADER, rows))
    assert len(source_rows(source)) == 4, "the failed load must leave the previous source untouched"
