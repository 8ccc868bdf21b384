"""The DAG parses quickly, is wired as documented, and retries only what a retry can fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from segments import runner
from segments.settings import Settings


@pytest.fixture(scope="module")
def dag():
    return runner.load_dag()


def test_dag_imports_without_errors_and_has_its_tags(dag):
    assert dag.dag_id == "customer_segmentation"
    assert {"segments", "nightly"} <= set(dag.tags)
    assert dag.doc_md and "On call" in dag.doc_md


def test_tasks_run_in_pipeline_order(dag):
    order = [task.task_id for task in dag.topological_sort()]
    assert order == ["resolve_snapshot", "extract", "aggregates", "features", "wait_for_earlier_run", "training",
                     "quality_gate", "publish", "report"]


def test_every_task_retries_with_backoff_but_not_permanent_errors(dag):
    for task in dag.tasks:
        assert task.retries == Settings().task_retries
        assert task.retry_exponential_backoff
        assert task.retry_policy is not None
        assert task.on_failure_callback


def test_production_default_is_two_retries(monkeypatch):
    monkeypatch.delenv("SEGMENTS_TASK_RETRIES", raising=False)
    assert Settings().task_retries == 2


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
