"""Each fact the code relies on is stated once; where SQL must spell it out, it agrees with that one place."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from segments.errors import InvalidParameterError
from segments.pipeline.snapshot import resolve
from segments.outputs.report.charts import FEATURE_LABELS
from segments.settings import ALL_FEATURES, DAG_ID, K_MAX, K_MIN, PROJECT_ROOT, SOURCE_COLUMNS, SQL_DIR, Settings
from segments.tools.load import COLUMN_SPELLINGS

CODE_DIRS = ("include", "dags", "plugins")
# SQL that lists every source column by hand, because it casts each one or reads the staged
# names: the text holding the list.
SOURCE_COLUMN_LISTS = {
    "source/select_invoice_lines_window.sql": r"select(.*?)coalesce",
    "source/day_fingerprints_before.sql": r"row\((.*?)\), 0\)",
    "internal/extracted_days__refresh.sql": r"row\((.*?)\), 0\)",
    # A duplicate line: the same value in every column.
    "intermediate/int_invoice_lines_classified__create.sql": r"partition by(.*?)\)",
}
# staging.stg_invoice_lines renames the source's invoice_date to what it holds: a moment; the
# duplicate window names the customer by its never-null key (raw/tables.sql).
STAGED_NAMES = {"invoice_date": "invoiced_at", "customer_id": "customer_key"}
# Files that must name every feature: the tables, the SQL that computes, rounds, profiles and
# documents each one, the definitions' centroid column of each, the report's label for each,
# the query that unpivots a row into one value per feature by name (a generated list would cost a
# JSON conversion per customer), and the training select, which casts each numeric
# feature to a float in the database. Every other list of features is generated from
# settings.ALL_FEATURES.
FEATURE_LISTS = {
    "sql/intermediate/tables.sql",
    "sql/intermediate/int_customer_features__insert.sql",
    "sql/segments/tables.sql",
    "sql/segments/customer_segments__insert.sql",
    "sql/segments/segment_definitions__insert.sql",
    "sql/segments/segment_profiles__insert.sql",
    "sql/segments/comments.sql",
    "include/segments/outputs/report/charts.py",
    "sql/reads/report_profile_zscores.sql",
    "sql/intermediate/int_customer_features__select.sql",
}


def code_files(*suffixes: str) -> list[Path]:
    found = [path for folder in (*CODE_DIRS, "sql") for path in (PROJECT_ROOT / folder).rglob("*")]
    return [path for path in found if path.suffix in suffixes and "__pycache__" not in path.parts]


def named_in_order(text: str, names: tuple[str, ...]) -> list[str]:
    return [word for word in re.findall(r"\b\w+\b", text) if word in names]


@pytest.mark.parametrize("relative_path", list(SOURCE_COLUMN_LISTS))
def test_sql_that_casts_each_source_column_lists_them_in_the_contract_order(relative_path):
    text = (SQL_DIR / relative_path).read_text()
    (columns,) = re.findall(SOURCE_COLUMN_LISTS[relative_path], text, flags=re.S)
    names = tuple(STAGED_NAMES.get(column, column) for column in SOURCE_COLUMNS) if relative_path.startswith("intermediate/") \
        else SOURCE_COLUMNS
    assert named_in_order(columns, names) == list(names)


def test_the_loader_reads_every_source_column_and_no_other():
    assert tuple(COLUMN_SPELLINGS) == SOURCE_COLUMNS


def test_the_source_column_list_is_written_out_only_where_sql_casts_each_column():
    listing = re.compile(r"\b" + r"\W+".join(SOURCE_COLUMNS[:4]) + r"\b")
    written = {path.relative_to(SQL_DIR).as_posix() for path in code_files(".sql") if listing.search(path.read_text())}
    python = [path for path in code_files(".py") if listing.search(path.read_text().replace('"', ""))]
    assert written <= set(SOURCE_COLUMN_LISTS), "list the columns with {source_columns} instead"
    assert python == [PROJECT_ROOT / "include/segments/settings.py"]


def test_every_feature_is_named_where_it_must_be_and_listed_nowhere_else():
    listing_files = set()
    for path in code_files(".sql", ".py"):
        named = set(re.findall(r"\b\w+\b", path.read_text())) & set(ALL_FEATURES)
        if len(named) > len(ALL_FEATURES) // 2:
            listing_files.add(path.relative_to(PROJECT_ROOT).as_posix())
    assert FEATURE_LISTS <= listing_files
    for relative_path in FEATURE_LISTS:
        named = set(re.findall(r"\b\w+\b", (PROJECT_ROOT / relative_path).read_text()))
        assert set(ALL_FEATURES) <= named, f"{relative_path} misses {set(ALL_FEATURES) - named}"
    assert listing_files - FEATURE_LISTS == {"include/segments/settings.py"}, "generate the list from ALL_FEATURES"


def test_the_report_labels_every_feature():
    assert tuple(FEATURE_LABELS) == ALL_FEATURES


def test_every_sql_file_is_named_whole_where_it_is_used():
    built = re.compile(r"""f["'][^"']*\.sql["']""")
    assert not [path for path in code_files(".py") if built.search(path.read_text())], "grep must find every caller"


def test_the_dag_id_is_written_once():
    writing = [path for path in code_files(".py") if f'"{DAG_ID}"' in path.read_text()]
    assert writing == [PROJECT_ROOT / "include/segments/settings.py"]


def test_the_environment_is_read_in_settings_and_airflows_local_setup_only():
    reads = re.compile(r"os\.environ\.get\(|os\.getenv\(|in os\.environ\b|os\.environ\[[^\]]+\](?!\s*=)")
    reading = {path.relative_to(PROJECT_ROOT).as_posix() for path in code_files(".py") if reads.search(path.read_text())}
    assert reading == {"include/segments/settings.py", "include/segments/tools/local.py"}


def test_k_is_accepted_exactly_in_its_range():
    now = dt.datetime(2011, 12, 10, 2, tzinfo=dt.timezone.utc)
    for k in range(K_MIN, K_MAX + 1):
        assert resolve(now, now, "run", {"k": str(k)}, Settings()).k == k
    for k in (K_MIN - 1, K_MAX + 1):
        with pytest.raises(InvalidParameterError, match=f"from {K_MIN} to {K_MAX}"):
            resolve(now, now, "run", {"k": str(k)}, Settings())

