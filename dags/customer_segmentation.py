"""
# Customer segmentation, nightly

Publishes snapshot **D** (the run's logical date, as a day in the business timezone) of
customer segments built only from invoice lines dated before D 00:00.

1. **extract**: copies new source lines (from the high-water mark, minus `lookback_days`) from
   `retail_source` into `segment_warehouse` with COPY, replacing exactly the re-read days.
2. **aggregates**: classifies every extracted line (purchase, return, non-product, no customer,
   duplicate, or quarantined as invalid) and refreshes the per-customer daily aggregates.
3. **features**: per-customer recency, frequency, monetary value and more, in SQL.
4. **wait_for_earlier_run**: while the DAG run of the day before is queued or running, waits for it,
   so that a backfill publishes its dates in order, each continuing the one before.
5. **training**: K-Means on log-scaled features, segments named and matched to the predecessor
   (the snapshot of the day before, when published; otherwise a fresh start).
6. **quality_gate**: refuses a model with a tiny segment, a poor silhouette or mass migration, a
   jump by orders of magnitude from the predecessor, or a rerun that would shrink a published date.
7. **publish**: replaces snapshot D in the `segments` schema in one transaction.
8. **report**: writes the snapshot's HTML report and charts (shown on the Customer segments page).

**On call**: a failed run publishes nothing; the previous snapshot stays current. Reruns and
backfills are safe in any order and overlapping (idempotent, point-in-time): a snapshot depends
only on the source before D and on its predecessor. Dates in the future are refused. The failure
log starts with a summary paragraph.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import (
    Asset, CronTriggerTimetable, ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, get_current_context, task,
)

from segments.outputs.notify import failure_callbacks, publish_deadline
from segments.pipeline.snapshot import HISTORY_DAYS_RANGE, LOOKBACK_DAYS_RANGE, Snapshot, resolve
from segments.settings import DAG_ID, K_MAX, K_MIN, SOURCE_CONN_ID, WAREHOUSE_CONN_ID, Settings

settings = Settings()
hour, minute = settings.schedule_time.split(":")
published_segments = Asset(name="segments.customer_segments")


@dag(
    dag_id=DAG_ID,
    schedule=CronTriggerTimetable(f"{int(minute)} {int(hour)} * * *", timezone=settings.timezone),
    # Any retailer's history, from any year: a run before start_date would run no task at all.
    start_date=dt.datetime(1970, 1, 1),
    catchup=False,
    # Order and isolation come from the pipeline itself (wait_for_earlier_run, run-scoped
    # tables, the warehouse write lock), not from this limit, which backfills ignore anyway.
    max_active_runs=16,
    dagrun_timeout=dt.timedelta(hours=settings.run_timeout_hours),
    deadline=publish_deadline(settings),
    doc_md=__doc__,
    tags=["segments", "customers", "nightly"],
    default_args={
        "owner": "data-engineering",
        "retries": settings.task_retries,
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=15),
        "execution_timeout": dt.timedelta(minutes=settings.task_timeout_minutes),
        "retry_policy": ExceptionRetryPolicy(rules=[RetryRule(
            exception="segments.errors.PermanentError", action=RetryAction.FAIL,
            reason="Bad data, parameters or model: retrying cannot fix it.",
        )]),
        "on_failure_callback": failure_callbacks(),
    },
    params={
        "k": Param(settings.k, type="string", enum=["auto", *map(str, range(K_MIN, K_MAX + 1))],
                   description=f"Number of segments, or auto (best silhouette among {K_MIN} to {K_MAX})."),
        "full_refresh": Param(False, type="boolean",
                              description="Re-extract all history before the snapshot date (also allows a rerun to shrink "
                                          "the date's published snapshot)."),
        "force": Param(False, type="boolean",
                       description="Publish even if this rerun shrinks the date's published snapshot by more than "
                                   f"{settings.max_republish_shrink_share:.0%} of its customers."),
        "lookback_days": Param(settings.lookback_days, type="integer", minimum=LOOKBACK_DAYS_RANGE[0],
                               maximum=LOOKBACK_DAYS_RANGE[1],
                               description="Recent days re-read on every run to catch late or corrected lines."),
        "history_days": Param(None, type=["null", "integer"], minimum=HISTORY_DAYS_RANGE[0],
                              maximum=HISTORY_DAYS_RANGE[1],
                              description="Only consider this many days of history (empty: all of it)."),
    },
)
def customer_segmentation():
    @task
    def resolve_snapshot() -> dict:
        context = get_current_context()
        run = context["dag_run"]
        return resolve(run.logical_date, run.run_after, run.run_id, context["params"], settings).to_xcom()

    @task
    def extract(snapshot: dict) -> dict:
        from segments import db
        from segments.pipeline import stages

        with db.connect(SOURCE_CONN_ID) as source, db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return stages.extract_stage(source, warehouse, Snapshot.from_xcom(snapshot), settings)

    @task
    def aggregates(snapshot: dict, extracted: dict) -> dict:
        from segments import db
        from segments.pipeline import stages

        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return stages.aggregates_stage(warehouse, Snapshot.from_xcom(snapshot), extracted, settings)

    @task
    def features(snapshot: dict) -> dict:
        from segments import db
        from segments.pipeline import stages

        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return stages.features_stage(warehouse, Snapshot.from_xcom(snapshot), settings)

    # depends_on_past makes Airflow itself hold a run until the previous run has passed this
    # point, and refuse backfills in reverse; all_done lets a failed run pass it, so that one
    # failed night never blocks the next.
    @task.sensor(poke_interval=settings.predecessor_poke_seconds, timeout=settings.run_timeout_hours * 3600,
                 mode="poke", depends_on_past=True, trigger_rule="all_done")
    def wait_for_earlier_run(snapshot: dict) -> bool:
        from segments.pipeline import stages

        task_instance = get_current_context()["ti"]
        previous = task_instance.get_previous_dagrun()
        if previous is None:
            return True
        states = task_instance.get_task_states(dag_id=previous.dag_id, task_ids=["publish"], run_ids=[previous.run_id])
        publish_state = states.get(previous.run_id, {}).get("publish")
        return not stages.earlier_run_blocks(previous.logical_date, previous.state, publish_state,
                                             Snapshot.from_xcom(snapshot).as_of_date, settings)

    @task
    def training(snapshot: dict, featured: dict) -> dict:
        from segments import db
        from segments.pipeline import stages

        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return stages.training_stage(warehouse, Snapshot.from_xcom(snapshot), featured, settings)

    @task
    def quality_gate(snapshot: dict) -> dict:
        from segments import db
        from segments.pipeline import stages

        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return stages.quality_gate_stage(warehouse, Snapshot.from_xcom(snapshot), settings)

    @task(outlets=[published_segments])
    def publish(snapshot: dict, extracted: dict, featured: dict) -> dict:
        from segments import db
        from segments.errors import ConnectionLostError
        from segments.pipeline import stages

        try:
            with db.connect(WAREHOUSE_CONN_ID) as warehouse:
                return stages.publish_stage(warehouse, Snapshot.from_xcom(snapshot), extracted, featured)
        except ConnectionLostError as lost:
            # The publish may have committed just before the connection broke: a new connection tells.
            with db.connect(WAREHOUSE_CONN_ID, wait_seconds=settings.reconnect_wait_seconds) as warehouse:
                return stages.confirm_publish(warehouse, Snapshot.from_xcom(snapshot), lost)

    @task
    def report(snapshot: dict) -> dict:
        from segments import db
        from segments.outputs import report as reporting

        with db.connect(WAREHOUSE_CONN_ID) as warehouse:
            return reporting.report_stage(warehouse, Snapshot.from_xcom(snapshot), settings)

    snapshot = resolve_snapshot()
    extracted = extract(snapshot)
    aggregated = aggregates(snapshot, extracted)
    featured = features(snapshot)
    waited = wait_for_earlier_run(snapshot)
    trained = training(snapshot, featured)
    gated = quality_gate(snapshot)
    published = publish(snapshot, extracted, featured)
    # Training needs the features and the wait (which lets a failed run pass, see above).
    aggregated >> featured >> waited
    [featured, waited] >> trained >> gated >> published >> report(snapshot)


customer_segmentation()
