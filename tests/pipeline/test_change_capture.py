"""The source's change capture: nightly extracts read the days written since the last one, and
every write to history still reaches the warehouse, however runs and writes interleave.

Hypothesis draws a shop's history and a sequence of writes to it (price corrections, deleted
lines, late lines on old days) between a first run, a backfill of an earlier date and a later
night. After every run the warehouse's raw lines before that run's date must equal the source's.
Then each way the log can become untrustworthy (a disabled trigger, a TRUNCATE, a new
installation) must send the extract back to fingerprints, never to a silent miss.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import psycopg
import pytest
from conftest import TEST_WAREHOUSE, fresh_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_helpers import run_stages
from segments import db
from segments.pipeline import change_capture
from segments.settings import Settings
from segments.tools import cli, load, server

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

SOURCE_TABLE = Settings().source_table
FIRST_DAY = dt.date(2011, 3, 1)
DAYS = 60
FIRST_RUN = FIRST_DAY + dt.timedelta(days=40)
BACKFILL = FIRST_DAY + dt.timedelta(days=25)
LAST_RUN = FIRST_DAY + dt.timedelta(days=DAYS)
LINE_COLUMNS = "invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country"

# One write to the source: a price correction, a deletion or a late line, on an invoice number or a day.
write = st.one_of(
    st.tuples(st.just("reprice"), st.integers(0, 59)),
    st.tuples(st.just("delete"), st.integers(0, 59)),
    st.tuples(st.just("late line"), st.integers(0, DAYS - 1)),
)


def as_line(number: int, day: int) -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    return (f"{500000 + number}\t{22000 + number % 5}\tITEM\t{1 + number % 3}\t"
            f"{FIRST_DAY + dt.timedelta(days=day)} 10:00:00\t2.50\t{10000 + number % 4}\tUnited Kingdom\n")


def apply(source, writes: list[tuple[str, int]], serial: int) -> None:
    for number, (kind, value) in enumerate(writes):
        if kind == "reprice":
            source.execute(f"update {SOURCE_TABLE} set unit_price = unit_price + 1 where invoice_no = %s",
                           (str(500000 + value),))
        elif kind == "delete":
            source.execute(f"delete from {SOURCE_TABLE} where invoice_no = %s", (str(500000 + value),))
        else:
            source.execute(f"insert into {SOURCE_TABLE} ({LINE_COLUMNS}) values "
                           "(%s, '85123A', 'LATE', 2, %s, 3.10, '10009', 'France')",
                           (f"L{serial}{number}", dt.datetime.combine(FIRST_DAY + dt.timedelta(days=value), dt.time(9))))
    source.commit()


def assert_raw_lines_match_the_source(source, warehouse, before: dt.date) -> None:
    query = (f"select {LINE_COLUMNS} from {{table}} where invoice_date < %s "
             f"order by {LINE_COLUMNS}")
    in_source = source.execute(query.format(table=SOURCE_TABLE), (before,)).fetchall()
    extracted = warehouse.execute(query.format(table="raw.invoice_lines"), (before,)).fetchall()
    assert extracted == in_source, f"the warehouse's lines before {before} differ from the source's"


def extract_found_by(run: dict) -> str:
    return run["extract"]["changed_days_found_by"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.lists(st.integers(0, DAYS - 1), min_size=60, max_size=60),
    before_backfill=st.lists(write, max_size=6),
    before_last_run=st.lists(write, max_size=6),
)
def test_every_write_to_history_reaches_the_warehouse_through_the_log(source, days, before_backfill, before_last_run):
    with db.connect_url(fresh_database(TEST_WAREHOUSE)) as warehouse:
        load.copy_into_source(source, ["".join(as_line(number, day) for number, day in enumerate(days))], replace=True)
        change_capture.install(source, SOURCE_TABLE)

        first = run_stages(source, warehouse, FIRST_RUN, publish=False)
        assert extract_found_by(first) == "full history"
        assert_raw_lines_match_the_source(source, warehouse, FIRST_RUN)

        # Writes anywhere in history, then a backfill of an earlier date: it re-reads the days
        # before its date, and the later days that changed wait for the next run.
        apply(source, before_backfill, serial=1)
        backfill = run_stages(source, warehouse, BACKFILL, publish=False)
        assert extract_found_by(backfill) == "change capture"
        assert_raw_lines_match_the_source(source, warehouse, BACKFILL)

        apply(source, before_last_run, serial=2)
        last = run_stages(source, warehouse, LAST_RUN, publish=False)
        assert extract_found_by(last) == "change capture"
        assert_raw_lines_match_the_source(source, warehouse, LAST_RUN)


@pytest.fixture
def captured_warehouse(source, warehouse):
    """A source with the change capture and a warehouse whose extracts have read its log once."""
    load.copy_into_source(source, ["".join(as_line(number, number % DAYS) for number in range(120))], replace=True)
    change_capture.install(source, SOURCE_TABLE)
    run_stages(source, warehouse, FIRST_RUN, publish=False)
    assert extract_found_by(run_stages(source, warehouse, FIRST_RUN, publish=False)) == "change capture"
    return source, warehouse


def test_a_night_re_reads_the_days_after_the_high_water_mark_and_the_days_the_log_names_only(captured_warehouse):
    source, warehouse = captured_warehouse
    # Two lines a day were extracted up to the day before FIRST_RUN; a late line arrives for a day
    # that a look-back would have re-read anyway.
    apply(source, [("late line", 38)], serial=1)
    night = FIRST_RUN + dt.timedelta(days=2)
    extract = run_stages(source, warehouse, night, publish=False)["extract"]
    assert extract["changed_days_found_by"] == "change capture"
    assert extract["window_start"] == FIRST_RUN.isoformat(), "no look-back: the log names the late days"
    assert extract["changed_days_reextracted"] == 1
    assert extract["lines_extracted"] == 2 * 2 + 3, "the two new days, and the late line's day again"
    assert_raw_lines_match_the_source(source, warehouse, night)


def test_a_disabled_trigger_sends_the_extract_back_to_fingerprints(captured_warehouse, caplog):
    source, warehouse = captured_warehouse
    source.execute(f"alter table {SOURCE_TABLE} disable trigger segments_capture_update")
    apply(source, [("reprice", 3)], serial=1)  # a write the log never saw
    with caplog.at_level(logging.WARNING):
        run = run_stages(source, warehouse, FIRST_RUN, publish=False)
    assert extract_found_by(run) == "fingerprints"
    assert "3 of its 4 triggers enabled" in caplog.text and "segments source-capture install" in caplog.text
    assert_raw_lines_match_the_source(source, warehouse, FIRST_RUN)


def test_a_truncated_and_reloaded_source_is_verified_by_fingerprints(captured_warehouse):
    source, warehouse = captured_warehouse
    load.copy_into_source(source, ["".join(as_line(number, number % 30) for number in range(90))], replace=True)
    run = run_stages(source, warehouse, FIRST_RUN, publish=False)
    assert extract_found_by(run) == "fingerprints"
    assert_raw_lines_match_the_source(source, warehouse, FIRST_RUN)
    assert extract_found_by(run_stages(source, warehouse, FIRST_RUN, publish=False)) == "change capture"


def test_a_new_installation_is_trusted_only_after_one_fingerprint_check(captured_warehouse):
    source, warehouse = captured_warehouse
    change_capture.remove(source, SOURCE_TABLE)
    apply(source, [("delete", 7)], serial=1)  # while nothing logs
    change_capture.install(source, SOURCE_TABLE)
    run = run_stages(source, warehouse, FIRST_RUN, publish=False)
    assert extract_found_by(run) == "fingerprints"
    assert_raw_lines_match_the_source(source, warehouse, FIRST_RUN)
    assert extract_found_by(run_stages(source, warehouse, FIRST_RUN, publish=False)) == "change capture"


def test_the_command_installs_reports_and_removes_it_and_names_the_owner_it_needs(source, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW_CONN_RETAIL_SOURCE", server.url(source.info.dbname))
    assert cli.main(["source-capture", "install"]) == 1
    missing = capsys.readouterr().err
    assert f"no table {SOURCE_TABLE}" in missing and "segments load" in missing and "Traceback" not in missing

    load.copy_into_source(source, [as_line(0, 0)], replace=True)
    assert cli.main(["source-capture", "status"]) == 0
    assert "not installed" in capsys.readouterr().out
    assert cli.main(["source-capture", "install"]) == 0
    assert "Change capture is on" in capsys.readouterr().out

    # The extract's own account (read-only) may read the log but not install triggers.
    source.execute("drop role if exists capture_reader")
    source.execute("create role capture_reader login password 'reader-secret'")
    reader_url = psycopg.conninfo.make_conninfo(server.url(source.info.dbname), user="capture_reader",
                                                password="reader-secret")
    monkeypatch.setenv("AIRFLOW_CONN_RETAIL_SOURCE", reader_url)
    assert cli.main(["source-capture", "status"]) == 1  # not yet allowed to connect: the error names the
    refused = capsys.readouterr().err                     # connection, never its password
    assert "capture_reader" in refused and "password=***" in refused and "reader-secret" not in refused
    source.execute(f"grant connect on database {source.info.dbname} to capture_reader")
    source.execute(f"grant usage on schema retail to capture_reader; grant select on {SOURCE_TABLE} to capture_reader")
    source.commit()
    assert cli.main(["source-capture", "status"]) == 0
    assert "Change capture is on" in capsys.readouterr().out
    assert cli.main(["source-capture", "install"]) == 1
    refused = capsys.readouterr().err
    assert "need its owner" in refused and "reader-secret" not in refused and "Traceback" not in refused

    monkeypatch.setenv("AIRFLOW_CONN_RETAIL_SOURCE", server.url(source.info.dbname))
    assert cli.main(["source-capture", "remove"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_a_write_still_open_while_an_extract_reads_is_picked_up_by_the_next(captured_warehouse):
    source, warehouse = captured_warehouse
    with db.connect_url(server.url(source.info.dbname)) as writer:
        with writer.transaction():
            writer.execute(f"update {SOURCE_TABLE} set unit_price = 9.99 where invoice_no = '500004'")
            # The extract's snapshot cannot see this write, nor its log entry.
            run_stages(source, warehouse, FIRST_RUN, publish=False)
    assert extract_found_by(run_stages(source, warehouse, FIRST_RUN, publish=False)) == "change capture"
    assert_raw_lines_match_the_source(source, warehouse, FIRST_RUN)


def test_pruning_the_log_past_a_warehouse_s_position_sends_it_back_to_fingerprints_once(
    captured_warehouse, monkeypatch, capsys
):
    source, warehouse = captured_warehouse
    monkeypatch.setenv("AIRFLOW_CONN_RETAIL_SOURCE", server.url(source.info.dbname))
    apply(source, [("reprice", 11)], serial=1)
    assert cli.main(["source-capture", "prune", "--keep-days", "30"]) == 0
    assert "Pruned 0 log entries older than 30 days." in capsys.readouterr().out
    assert extract_found_by(run_stages(source, warehouse, FIRST_RUN, publish=False)) == "change capture"

    apply(source, [("delete", 12)], serial=2)
    assert cli.main(["source-capture", "prune", "--keep-days", "0"]) == 0  # every entry, the delete's too
    assert "Pruned 0 " not in capsys.readouterr().out
    run = run_stages(source, warehouse, FIRST_RUN, publish=False)
    assert extract_found_by(run) == "fingerprints"
    assert_raw_lines_match_the_source(source, warehouse, FIRST_RUN)
    assert extract_found_by(run_stages(source, warehouse, FIRST_RUN, publish=False)) == "change capture"
