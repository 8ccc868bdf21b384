"""A real local Airflow: api-server, scheduler, dag-processor and triggerer as background processes.

Metadata lives in the embedded PostgreSQL (not SQLite), so the LocalExecutor can run tasks in
parallel. Each component logs to `.local/airflow/logs/<component>.log` and keeps its pid in
`.local/airflow/run/<component>.pid`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from segments.tools import local

COMPONENTS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}
ADMIN_USER = "admin"
# How long `stop` waits for the components to exit on SIGTERM before it kills them, then for the
# killed processes to be reaped.
STOP_TIMEOUT_SECONDS = 30
KILLED_GONE_SECONDS = 10


def _run_dir() -> Path:
    return local.airflow_home() / "run"


def _log_dir() -> Path:
    return local.airflow_home() / "logs"


def _passwords_file() -> Path:
    return local.airflow_home() / "passwords.json"


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    log: Path


def _secret(name: str) -> str:
    path = local.airflow_home() / f".{name}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def admin_password() -> str:
    """The local admin's password, generated once and kept in the Airflow home."""
    if not _passwords_file().exists():
        _passwords_file().parent.mkdir(parents=True, exist_ok=True)
        _passwords_file().write_text(json.dumps({ADMIN_USER: secrets.token_urlsafe(12)}))
        _passwords_file().chmod(0o600)
    return json.loads(_passwords_file().read_text())[ADMIN_USER]


def stack_environment(port: int) -> dict[str, str]:
    """Settings every component must share: executor, API address, signing secrets, login."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret("jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret("api_secret_key"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        # A run's tasks follow each other about 0.3 s apart instead of 0.6 s (Airflow's 1 s), for
        # about 4 CPU seconds a minute more while idle (README, local Airflow).
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        # Locally the DAG is active from the start, as the README's backfill section expects
        # (a deployment decides for itself; a backfill of a paused DAG is refused, see below).
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def dag_is_paused(dag_id: str) -> bool | None:
    """Whether a DAG is paused in Airflow's metadata (None: not parsed yet)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = session.get(DagModel, dag_id)
        return None if model is None else bool(model.is_paused)


def paused_backfill_refusal(airflow_args: list[str]) -> str | None:
    """Why an `airflow backfill create` would sit queued forever (its DAG is paused), or None."""
    if airflow_args[:2] != ["backfill", "create"] or "--dag-id" not in airflow_args:
        return None
    dag_id = airflow_args[airflow_args.index("--dag-id") + 1]
    if not dag_is_paused(dag_id):
        return None
    return (
        f"DAG {dag_id} is paused, so the backfill's runs would stay queued and nothing would run. "
        f"Unpause it first (`segments airflow-cli dags unpause {dag_id}`, or the toggle on its page in the UI), "
        "then create the backfill again."
    )


def _pid(name: str) -> int | None:
    path = _run_dir() / f"{name}.pid"
    return int(path.read_text()) if path.exists() else None


def _reap(pid: int) -> None:
    """Collect the exit of a component this process started (a test's stack, the bench's): until
    its parent does, an exited process stays a zombie, which still answers signals."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # started by another process (`segments airflow start`)
        pass


def _alive(pid: int | None, whole_group: bool = False) -> bool:
    """Whether the component runs; with `whole_group`, whether any process is left of the group
    it leads (start_new_session): the component, or a process it started, such as a task."""
    if pid is None:
        return False
    _reap(pid)
    try:
        (os.killpg if whole_group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # its last process has just exited
        os.killpg(pid, signum)


def status() -> list[ComponentStatus]:
    """Each component: its pid and whether it runs."""
    return [
        ComponentStatus(name, _pid(name), _alive(_pid(name)), _log_dir() / f"{name}.log") for name in COMPONENTS
    ]


def start(port: int = 8080, timeout_seconds: float = 120) -> str:
    """Start every component that is not running; wait until the UI answers; return its URL."""
    local.configure()
    local.ensure_airflow_metadata()
    admin_password()
    environment = {**os.environ, **stack_environment(port)}
    _run_dir().mkdir(parents=True, exist_ok=True)
    _log_dir().mkdir(parents=True, exist_ok=True)
    for component in status():
        if component.running:
            continue
        with component.log.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *COMPONENTS[component.name]],
                env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (_run_dir() / f"{component.name}.pid").write_text(str(process.pid))
    url = f"http://127.0.0.1:{port}"
    _wait_for(f"{url}/api/v2/monitor/health", timeout_seconds)
    return url


def _wait_for(url: str, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        stopped = [component.name for component in status() if not component.running]
        if stopped:
            raise RuntimeError(
                f"Airflow component(s) {', '.join(stopped)} exited; see {_log_dir()}/<component>.log."
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"Airflow did not answer at {url} within {timeout_seconds:.0f} s; see {_log_dir()}.")
        time.sleep(1)


def stop(timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> list[str]:
    """Stop every component and the processes it started (its process group): SIGTERM, then
    SIGKILL to a group not gone within `timeout_seconds`. Returns the components that had to be killed."""
    pids = {name: _pid(name) for name in COMPONENTS}
    for pid in pids.values():
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
    _wait_until_gone(pids.values(), timeout_seconds)
    killed = [name for name, pid in pids.items() if _alive(pid, whole_group=True)]
    for name in killed:
        _signal_group(pids[name], signal.SIGKILL)
    # A killed process outlived by its parent is gone once init has reaped it.
    _wait_until_gone(pids.values(), KILLED_GONE_SECONDS)
    for name in COMPONENTS:
        (_run_dir() / f"{name}.pid").unlink(missing_ok=True)
    return killed


def _wait_until_gone(pids: Collection[int | None], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(_alive(pid, whole_group=True) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
