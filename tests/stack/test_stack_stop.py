"""Stopping the local Airflow (`segments airflow stop`, and the test and bench stacks) ends
components that exit on SIGTERM at once, also when this very process started them, and kills
what will not go: a component, or a process it started (a task) that outlives it.

The components are stand-in processes with the stack's pid files: what `stop` does depends only
on how they and their children answer signals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from segments.tools import airflow_stack

EXITS_ON_SIGTERM = "signal.signal(signal.SIGTERM, signal.SIG_DFL)"
IGNORES_SIGTERM = "signal.signal(signal.SIGTERM, signal.SIG_IGN)"


def stand_in(handling: str, child: str | None = None) -> str:
    """A program that sets its SIGTERM handling, starts `child` (another stand-in, in its process
    group) if given and waits for it to be ready, says it is ready, then waits to be stopped."""
    starts_child = "" if child is None else (
        f"import subprocess; child = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE, "
        "text=True); child.stdout.readline(); "
    )
    return f"import signal, sys, time; {handling}; {starts_child}print('ready', flush=True); time.sleep(600)"


@pytest.fixture
def components(tmp_path, monkeypatch):
    """Start a stand-in for each component, as children of this process (as a test's stack is)."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    groups = []

    def start(programs: dict[str, str] | None = None) -> None:
        for name in airflow_stack.COMPONENTS:
            program = (programs or {}).get(name, stand_in(EXITS_ON_SIGTERM))
            process = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True,
                                       start_new_session=True)
            assert process.stdout.readline() == "ready\n"
            (run_dir / f"{name}.pid").write_text(str(process.pid))
            groups.append(process.pid)
        assert all(component.running for component in airflow_stack.status())

    yield start
    for group in groups:  # whatever a failed test left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def test_components_that_exit_on_sigterm_are_stopped_without_waiting_out_the_timeout(components):
    components()
    began = time.monotonic()
    killed = airflow_stack.stop(timeout_seconds=60)
    # Exited children are zombies until reaped; taken for running, they were each killed after 60 s.
    assert killed == []
    assert time.monotonic() - began < 30
    assert not any(component.running for component in airflow_stack.status())


def test_a_component_that_ignores_sigterm_is_killed_after_the_timeout_and_named(components, tmp_path):
    components({"triggerer": stand_in(IGNORES_SIGTERM)})
    assert airflow_stack.stop(timeout_seconds=2) == ["triggerer"]
    assert not any(component.running for component in airflow_stack.status())
    assert list((tmp_path / "run").iterdir()) == []


def test_a_process_that_outlives_its_component_is_killed_and_the_component_named(components):
    components({"scheduler": stand_in(EXITS_ON_SIGTERM, child=stand_in(IGNORES_SIGTERM))})
    (scheduler,) = [component for component in airflow_stack.status() if component.name == "scheduler"]
    assert airflow_stack.stop(timeout_seconds=2) == ["scheduler"]
    with pytest.raises(ProcessLookupError):  # no process is left in the scheduler's group
        os.killpg(scheduler.pid, 0)
