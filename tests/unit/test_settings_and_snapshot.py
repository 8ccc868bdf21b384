"""Settings validation, run parameters, the snapshot date and when a run waits: pure functions, no database.

Moved from test_dag.py and test_nightly.py, which run against PostgreSQL and Airflow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segments.errors import InvalidParameterError
from segments.pipeline import stages
from segments.pipeline.snapshot import Snapshot, resolve, snapshot_date
from segments.settings import Settings

AS_OF = dt.date(2011, 12, 10)


def test_a_publish_deadline_before_the_nightly_start_is_refused(monkeypatch):
    monkeypatch.setenv("SEGMENTS_PUBLISH_DEADLINE", "01:30")
    with pytest.raises(ValueError, match=r"SEGMENTS_PUBLISH_DEADLINE \(01:30\) must be later in the day"):
        Settings()


def test_production_default_is_two_retries(monkeypatch):
    monkeypatch.delenv("SEGMENTS_TASK_RETRIES", raising=False)
    assert Settings().task_retries == 2


def test_a_run_waits_only_for_an_unpublished_run_of_the_day_before():
    settings = Settings()
    day_before = dt.datetime(2011, 12, 9, 2, tzinfo=dt.timezone.utc)
    assert stages.earlier_run_blocks(day_before, "running", None, AS_OF, settings)
    assert stages.earlier_run_blocks(day_before, "queued", None, AS_OF, settings)
    assert not stages.earlier_run_blocks(day_before, "running", "success", AS_OF, settings), "report not awaited"
    assert not stages.earlier_run_blocks(day_before, "running", "upstream_failed", AS_OF, settings)
    assert not stages.earlier_run_blocks(day_before, "failed", None, AS_OF, settings)
    assert not stages.earlier_run_blocks(None, None, None, AS_OF, settings)
    weeks_before = dt.datetime(2011, 11, 1, 2, tzinfo=dt.timezone.utc)
    assert not stages.earlier_run_blocks(weeks_before, "running", None, AS_OF, settings), "not a predecessor"


def test_bad_params_fail_before_any_work():
    now = dt.datetime(2011, 12, 10, 2, tzinfo=dt.timezone.utc)
    for params in ({"k": "12"}, {"k": "many"}, {"lookback_days": -1}, {"history_days": 5}):
        with pytest.raises(InvalidParameterError):
            resolve(now, now, "run", params, Settings())


def test_snapshot_date_is_the_logical_day_in_the_business_timezone():
    late_utc = dt.datetime(2011, 7, 1, 23, 30, tzinfo=dt.timezone.utc)
    assert snapshot_date(late_utc, late_utc, "Europe/London") == dt.date(2011, 7, 2)
    assert snapshot_date(None, late_utc, "UTC") == dt.date(2011, 7, 1), "manual runs use run_after"


def test_the_snapshot_crosses_xcom_as_json_and_comes_back_equal():
    now = dt.datetime(2011, 12, 10, 2, tzinfo=dt.timezone.utc)
    snapshot = resolve(now, now, "scheduled__2011-12-10", {"k": "auto", "history_days": 400}, Settings())
    assert Snapshot.from_xcom(json.loads(json.dumps(snapshot.to_xcom()))) == snapshot


def test_a_run_in_flight_across_a_deploy_reads_the_snapshot_the_earlier_code_wrote():
    # What resolve_snapshot pushed before the Snapshot type: the same keys, as plain strings.
    earlier = {"as_of_date": "2011-12-10", "run_id": "scheduled__2011-12-10", "started_at": "2011-12-10T02:00:01",
               "k": 3, "lookback_days": 3, "history_days": None, "full_refresh": False, "force": False}
    snapshot = Snapshot.from_xcom(earlier)
    assert snapshot.as_of_date == dt.date(2011, 12, 10) and snapshot.started_at == dt.datetime(2011, 12, 10, 2, 0, 1)
    assert snapshot.to_xcom() == earlier


def test_the_default_local_ports_are_below_the_ports_the_system_lends_to_outgoing_connections():
    # Read in a fresh interpreter without the port variables: the settings module reads them on import.
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("SEGMENTS_PG_PORT", "SEGMENTS_CITUS_PORT")}
    printed = subprocess.run(
        [sys.executable, "-c", "from segments.settings import LOCAL_PG_PORT as m, LOCAL_CITUS_PORT as c; print(m, c)"],
        env=environment, capture_output=True, text=True, check=True).stdout
    main_port, coordinator_port = map(int, printed.split())
    lent = Path("/proc/sys/net/ipv4/ip_local_port_range")
    lowest_lent = int(lent.read_text().split()[0]) if lent.exists() else 32768
    # The main server, the coordinator and the two workers of `segments cluster start`.
    assert max(main_port, coordinator_port + 2) < min(lowest_lent, 32768)
