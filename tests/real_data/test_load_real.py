"""The real UCI file loads line for line (moved from pipeline/test_load.py)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from conftest import TEST_SOURCE

from segments.tools import cli, load, server


@pytest.mark.real_data
def test_real_file_loads_exactly_541909_lines(source, real_data):
    assert load.load_file(source, real_data).lines == 541_909
    assert source.execute("select count(*) from retail.invoice_lines").fetchone()[0] == 541_909


@pytest.mark.real_data
def test_a_load_whose_connection_breaks_says_so_without_a_traceback(source, real_data, capsys):
    """The server ends the load's session in the middle of its COPY (as a restart or an
    administrator would): one sentence saying what happened and what to do, exit 1, and the
    source's lines from before are still all there (the load's transaction rolled back)."""
    assert cli.main(["generate", "--lines", "1000", "--customers", "50"]) == 0
    before = source.execute("select count(*) from retail.invoice_lines").fetchone()[0]
    source.commit()
    stop = threading.Event()
    ended = []

    def end_the_copy() -> None:
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            while not stop.is_set() and not ended:
                ended.extend(admin.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s "
                    "and pid <> pg_backend_pid() and state = 'active' and query ilike '%%copy retail.invoice_lines%%'",
                    (TEST_SOURCE,)).fetchall())
                time.sleep(0.05)

    killer = threading.Thread(target=end_the_copy)
    killer.start()
    try:
        code = cli.main(["load", str(real_data)])
    finally:
        stop.set()
        killer.join()
    err = capsys.readouterr().err
    assert ended, "the load never reached its COPY"
    assert code == 1
    assert "segments load: the database connection broke" in err and "Run the command again" in err
    assert "Traceback" not in err
    with psycopg.connect(server.url(TEST_SOURCE)) as check:
        assert check.execute("select count(*) from retail.invoice_lines").fetchone()[0] == before
