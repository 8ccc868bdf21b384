"""Run the DAG for one snapshot date in this process: through Airflow (as `airflow dags test`), or
its stages directly, without Airflow (`run_stages`, for tests and the bench)."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import psycopg

from segments import db, queries
from segments.errors import RunConflictError, RunInterruptedError, first_line
from segments.outputs import report
from segments.pipeline import publish, stages
from segments.pipeline.snapshot import Snapshot, snapshot_date
from segments.settings import DAG_ID, LOCAL_DIR, PROJECT_ROOT, Settings
from segments.tools import local

RUN_LOCKS_DIR = LOCAL_DIR / "run-locks"


def default_as_of() -> dt.date:
    """The day after the newest source line (the first snapshot that sees all of it), at most today."""
    with db.connect_url(local.source_url()) as conn:
        (row,) = queries.fetch_all(
            conn, "source/newest_line_before.sql", {"window_end": dt.datetime.max},
            identifiers={"source_table": Settings().source_table},
        )
    if row["newest_invoice_date"] is None:
        raise RuntimeError("The source has no invoice lines: run `segments load PATH` or `segments generate` first.")
    today = dt.datetime.now(ZoneInfo(Settings().timezone)).date()
    return min(row["newest_invoice_date"].date() + dt.timedelta(days=1), today)


def run_stages(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    snapshot: Snapshot,
    settings: Settings,
    through: str = stages.SEQUENCE[-1],
    on_stage: Callable[[str, float, dict], None] | None = None,
) -> dict[str, dict]:
    """The DAG's stages in their order (`stages.SEQUENCE`), up to and including `through`, called
    as its tasks call them; returns each stage's XCom-sized result by stage name.

    `on_stage(name, seconds, result)` hears of each stage as it ends, so that a caller keeps what
    the stages before a failure returned.
    """
    calls: dict[str, Callable[[dict], dict]] = {
        "extract": lambda done: stages.extract_stage(source, warehouse, snapshot, settings),
        "aggregates": lambda done: stages.aggregates_stage(warehouse, snapshot, done["extract"], settings),
        "features": lambda done: stages.features_stage(warehouse, snapshot, settings),
        "training": lambda done: stages.training_stage(warehouse, snapshot, done["features"], settings),
        "quality_gate": lambda done: stages.quality_gate_stage(warehouse, snapshot, settings),
        "publish": lambda done: stages.publish_stage(warehouse, snapshot, done["extract"], done["features"]),
        "report": lambda done: report.report_stage(warehouse, snapshot, settings),
    }
    done: dict[str, dict] = {}
    for name in stages.SEQUENCE[: stages.SEQUENCE.index(through) + 1]:
        started = time.perf_counter()
        done[name] = calls[name](done)
        if on_stage is not None:
            on_stage(name, time.perf_counter() - started, done[name])
    return done


def load_dag():
    """The project's DAG, parsed the way the dag-processor parses it."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "customer_segmentation.py"))
    if DAG_ID not in bag.dags:
        raise RuntimeError(f"The DAG did not load: {bag.import_errors}")
    return bag.dags[DAG_ID]


@contextmanager
def _only_run_of_the_date(as_of: dt.date) -> Iterator[None]:
    """Refuse a second local run of the same date while one runs: `airflow dags test` would delete
    the first one's DAG run under it."""
    RUN_LOCKS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RUN_LOCKS_DIR / f"{as_of}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunConflictError(
                f"A run of snapshot {as_of} is already in progress here ({holder}); this one did nothing. "
                "Wait for it to finish (`segments status` shows its stages), then rerun if needed."
            ) from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def _lock_is_held(as_of: dt.date) -> bool:
    path = RUN_LOCKS_DIR / f"{as_of}.lock"
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def fail_abandoned_runs() -> list[str]:
    """Mark failed the foreground runs whose `segments run` process is gone (killed, or its machine
    restarted): left "running", the next date's run would wait for them (wait_for_earlier_run)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import select

    abandoned = []
    with create_session() as session:
        unfinished = session.scalars(select(DagRun).where(
            DagRun.dag_id == DAG_ID, DagRun.triggered_by == DagRunTriggeredByType.TEST,
            DagRun.state.in_([DagRunState.RUNNING, DagRunState.QUEUED]),
        ))
        for dag_run in unfinished:
            if not _lock_is_held(snapshot_date(dag_run.logical_date, dag_run.run_after, Settings().timezone)):
                dag_run.set_state(DagRunState.FAILED)
                abandoned.append(dag_run.run_id)
    return abandoned


def _connect_patiently(dialect, connection_record, cargs, cparams):
    """SQLAlchemy's connect, asked again while the server refuses it, for up to SEGMENTS_RECONNECT_WAIT_SECONDS."""
    def connect():
        return dialect.connect(*cargs, **cparams)

    return db.retry_connecting(connect, Settings().reconnect_wait_seconds, dialect.loaded_dbapi.OperationalError)


def _wait_for_restarting_metadata_database() -> None:
    """Let this process's connections to Airflow's metadata database wait out a server restart.

    dag.test() records every task's state there, in this process: without waiting, a restart
    of that server fails the bookkeeping of the task that was running and leaves its run
    "running". The pool pings a connection before reuse, so after a restart it reconnects here.
    """
    from airflow import settings as airflow_settings
    from sqlalchemy import event

    engines = [airflow_settings.engine]
    if airflow_settings.async_engine is not None:
        engines.append(airflow_settings.async_engine.sync_engine)
    for engine in engines:
        if not event.contains(engine, "do_connect", _connect_patiently):
            event.listen(engine, "do_connect", _connect_patiently)


def _end_interrupted_run(logical_date: dt.datetime, as_of: dt.date, error: Exception) -> str:
    """Once the metadata database answers again, mark the run and its unfinished tasks failed; say what happened."""
    from airflow import settings as airflow_settings
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State, TaskInstanceState
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    reason = first_line(getattr(error, "orig", None) or error)
    # The session that failed is unusable; each step below starts afresh.
    airflow_settings.Session.remove()
    run_id = None
    try:
        with create_session() as session:
            dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.logical_date == logical_date))
            run_id = dag_run.run_id
            for task_instance in dag_run.get_task_instances(session=session):
                if task_instance.state not in State.finished:
                    task_instance.state = TaskInstanceState.FAILED
            dag_run.set_state(DagRunState.FAILED)
        ended = f"Once it answered again, Airflow run {run_id} was marked failed."
    except SQLAlchemyError:
        ended = "It did not answer again in time: Airflow may still show the run as running until the date is rerun."
    outcome = f"Whether snapshot {as_of} was published could not be checked."
    if run_id is not None:
        try:
            with db.connect_url(local.warehouse_url()) as warehouse:
                published = publish.is_published(warehouse, run_id, as_of)
            outcome = (f"Snapshot {as_of} was published by this run before that; only later tasks (the report) "
                       "are missing." if published else f"Nothing of this run was published for {as_of}.")
        except ConnectionError:
            pass
    return (f"Airflow's metadata database went away during the run for snapshot {as_of} ({reason}). {ended} "
            f"{outcome} `segments status` shows each stage and what analysts see; rerun the date once the "
            "database is steady (reruns are safe).")


def run(as_of: dt.date, conf: dict | None = None) -> str:
    """Run every task of the DAG for snapshot `as_of` (as `airflow dags test`); return the run's state.

    A run in which no task ran (a date Airflow would not schedule) is reported as such, never as
    a success. A run the metadata database went away under raises RunInterruptedError, which says
    what happened and what was published.
    """
    from sqlalchemy.exc import SQLAlchemyError

    logical_date = dt.datetime.combine(as_of, dt.time(), ZoneInfo(Settings().timezone))
    dag = load_dag()
    # Airflow 3.3's dag.test() cannot finish a successful run of a DAG with a deadline alert
    # (apache/airflow#73428: it looks the alerts up where the scheduler looks up their ids); the
    # deadline is the nightly schedule's promise, which a run in the foreground does not make.
    dag.deadline = None
    _wait_for_restarting_metadata_database()
    with _only_run_of_the_date(as_of):
        for run_id in fail_abandoned_runs():
            print(f"Marked run {run_id} failed: its `segments run` process is gone.", file=sys.stderr)
        try:
            dag_run = dag.test(logical_date=logical_date, run_conf=conf or {})
        except SQLAlchemyError as error:
            raise RunInterruptedError(_end_interrupted_run(logical_date, as_of, error)) from None
    states = {str(ti.state) for ti in dag_run.get_task_instances()}
    if states <= {"None"}:
        return "no task ran"
    return str(dag_run.state)


def run_dag(as_of: dt.date | None, conf: dict) -> int:
    """Run the DAG for one date and print the published profiles; exit status 1 if it failed."""
    as_of = as_of or default_as_of()
    today = dt.datetime.now(ZoneInfo(Settings().timezone)).date()
    if as_of > today:
        print(f"Snapshot {as_of} is in the future (today is {today} in {Settings().timezone}); nothing was run. "
              "Choose today or an earlier date.", file=sys.stderr)
        return 1
    print(f"Running {DAG_ID} for snapshot {as_of} ...", file=sys.stderr)
    state = run(as_of, conf)
    if state == "no task ran":
        print(f"\nNo task ran for {as_of}: Airflow did not schedule that date, so nothing was published.",
              file=sys.stderr)
        return 1
    if state != "success":
        print(f"\nThe run for {as_of} ended {state}; nothing of it was published. The task log above starts "
              "its failure with a summary of what went wrong and what to do.", file=sys.stderr)
        return 1
    with db.connect_url(local.warehouse_url()) as conn:
        print(report.profiles_table(conn, as_of))
    return 0
