"""`airflow dags test` from the command line, on the real data (moved from test_end_to_end.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

AS_OF = dt.date(2011, 12, 10)


@pytest.mark.real_data
def test_airflow_dags_test_command_publishes_the_given_date(real_source, warehouse):
    command = [sys.executable, "-m", "airflow", "dags", "test", "customer_segmentation", "2011-12-10"]
    # Its exit status is not checked: Airflow 3.3's `dags test` exits non-zero after a successful
    # run of any DAG with a deadline alert (apache/airflow#73428); `segments run` does not.
    subprocess.run(command, env=dict(os.environ), capture_output=True, text=True)
    assert warehouse.execute("select as_of_date from segments.segmentation_runs").fetchall() == [(AS_OF,)]
