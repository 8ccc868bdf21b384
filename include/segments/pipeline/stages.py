"""The nightly job's stages as plain functions: connections and the run's Snapshot in, small dicts out.

The DAG calls one function per task, named after it (`<task>_stage`), and passes their return
values (counts, windows, table names) between tasks through XCom; DataFrames never leave a stage.
The report stage is an output: `segments.outputs.report.report_stage`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from segments.errors import ConnectionLostError, InsufficientDataError, QualityGateError, first_line
from segments.pipeline import aggregates, features, model, publish, registry, warehouse
from segments.pipeline import extract as extracting
from segments.pipeline.snapshot import Snapshot, snapshot_date
from segments.settings import Settings

log = logging.getLogger(__name__)

# The nightly stages in order, as the DAG's tasks between resolve_snapshot and the end (a test
# holds the DAG to it) and as `segments.tools.runner.run_stages` runs them without Airflow.
SEQUENCE = ("extract", "aggregates", "features", "training", "quality_gate", "publish", "report")

# DAG run states of a run that has not finished yet, and task states of a task that has.
UNFINISHED_RUN_STATES = ("queued", "running")
FINISHED_TASK_STATES = ("success", "failed", "upstream_failed", "skipped", "removed")


def earlier_run_blocks(previous_logical_date: dt.datetime | None, previous_state: str | None,
                       previous_publish_state: str | None, as_of_date: dt.date, settings: Settings) -> bool:
    """Whether a run must wait for the DAG run before it (by logical date).

    It must while that run is queued or running, its publish task has not ended, and its
    snapshot could be this one's predecessor: then every date of a backfill continues the
    snapshot of the date before it, exactly as sequential nightly runs do, however many runs
    Airflow starts at once. (The report after the publish is not waited for.)
    """
    if previous_logical_date is None or previous_state not in UNFINISHED_RUN_STATES:
        return False
    if previous_publish_state in FINISHED_TASK_STATES:
        return False
    previous_as_of = snapshot_date(previous_logical_date, previous_logical_date, settings.timezone)
    gap_days = (as_of_date - previous_as_of).days
    return 0 <= gap_days <= settings.predecessor_max_gap_days


@contextmanager
def recorded_stage(wh: psycopg.Connection, snapshot: Snapshot, name: str) -> Iterator[dict]:
    """Time a stage and record how it ended; the stage fills in the yielded detail.

    A stage whose connection broke (in its work or while recording it) cannot record anything
    on it: it fails saying so instead.
    """
    started, detail = time.perf_counter(), {}
    try:
        yield detail
        detail["seconds"] = round(time.perf_counter() - started, 3)
        warehouse.record_stage(wh, snapshot.run_id, snapshot.as_of_date, name, "success", detail)
    except Exception as error:
        if wh.broken:
            raise ConnectionLostError(
                f"The warehouse connection broke in stage {name} ({first_line(error)}): the server restarted or became "
                "unreachable, and whatever the stage had not committed was rolled back"
            ) from error
        detail.update(error=str(error), seconds=round(time.perf_counter() - started, 3))
        warehouse.record_stage(wh, snapshot.run_id, snapshot.as_of_date, name, "failed", detail)
        raise
    log.info("%s for %s: %s", name, snapshot.as_of_date, detail)


def extract_stage(source: psycopg.Connection, wh: psycopg.Connection, snapshot: Snapshot, settings: Settings) -> dict:
    """Prepare the warehouse and bring its raw lines up to date with the source for every day before D."""
    warehouse.ensure_schema(wh, settings)
    with recorded_stage(wh, snapshot, "extract") as detail:
        result = extracting.extract(
            source, wh, snapshot.as_of_date, snapshot.lookback_days, snapshot.full_refresh, snapshot.run_id,
            settings.source_table, settings.max_source_staleness_days, settings.lock_timeout_seconds,
        )
        detail.update(result.as_dict())
        future = extracting.lines_dated_after(source, settings.source_table, snapshot.started_at)
        detail["source_lines_dated_after_run"] = future
        if future:
            log.warning("%s source lines are dated after this run started (%s): they belong to no snapshot "
                        "until their date comes; check the shop's clock or test data.", future, snapshot.started_at)
    return detail


def aggregates_stage(wh: psycopg.Connection, snapshot: Snapshot, extracted: dict, settings: Settings) -> dict:
    """Classify the lines of every changed day and rebuild their daily aggregates."""
    window = _window(extracted)
    with recorded_stage(wh, snapshot, "aggregates") as detail:
        with wh.transaction():
            warehouse.lock_shared_models(wh, snapshot.run_id, "aggregates", settings.lock_timeout_seconds)
            warehouse.use_work_mem(wh, settings.work_mem)
            rebuild = aggregates.refresh_pending_days(wh, settings)
            detail["days_rebuilt"] = rebuild.days
            unclassified = aggregates.unclassified_lines(wh, window)
            counts = aggregates.window_line_counts(wh, window)
        aggregates.analyze(wh, rebuild)
        if unclassified:
            raise RuntimeError(
                f"{unclassified} extracted lines of {window.start}..{window.end} are not classified exactly once; "
                "the aggregates are inconsistent. Rerun the date with full_refresh=true."
            )
        detail["line_counts"] = [count.__dict__ for count in counts]
        detail["lines_classified"] = sum(count.lines for count in counts)
    return detail


def features_stage(wh: psycopg.Connection, snapshot: Snapshot, settings: Settings) -> dict:
    """Compute the snapshot's per-customer features in SQL, as this run's own rows.

    Under the write lock, any day another run extracted but has not aggregated yet is rebuilt
    first, so the features always read complete aggregates, however runs interleave.
    """
    with recorded_stage(wh, snapshot, "features") as detail:
        with wh.transaction():
            warehouse.lock_shared_models(wh, snapshot.run_id, "features", settings.lock_timeout_seconds)
            warehouse.use_work_mem(wh, settings.work_mem)
            rebuild = aggregates.refresh_pending_days(wh, settings)
            summary = features.build_features(wh, snapshot.run_id, snapshot.as_of_date, snapshot.history_days)
        if rebuild.days:
            aggregates.analyze(wh, rebuild)
        features.analyze(wh, summary)
        detail.update(summary.__dict__, days_rebuilt=rebuild.days, table="intermediate.int_customer_features")
        if summary.customers_segmented == 0:
            raise InsufficientDataError(
                f"No customer has a net purchase before {snapshot.as_of_date} "
                f"({summary.customers_excluded} customers have only returns, guest or excluded lines): there is "
                "nothing to segment. Nothing was published; choose a later date or check the source's customer ids."
            )
    return detail


def training_stage(wh: psycopg.Connection, snapshot: Snapshot, featured: dict, settings: Settings) -> dict:
    """Fit, name and identify the segments; store the model and every customer's assignment.

    The model continues the snapshot's predecessor (warm start, segment ids, migration) when one
    was published at most `predecessor_max_gap_days` before; otherwise it starts afresh.
    Up to `max_training_customers` customers, everything happens on one DataFrame row per
    customer. Beyond it, the model learns from a seeded sample of that size and every customer
    is assigned inside the warehouse, in SQL, from the stored model. `featured`: what the
    features stage returned (its count of segmentable customers).
    """
    with recorded_stage(wh, snapshot, "training") as detail:
        as_of_date, run_id = snapshot.as_of_date, snapshot.run_id
        in_memory = featured["customers_segmented"] <= settings.max_training_customers
        previous = registry.predecessor(wh, as_of_date, settings.predecessor_max_gap_days)
        predecessor = {"predecessor_as_of_date": previous.as_of_date.isoformat() if previous else None}
        if in_memory:
            frame = features.load_features(wh, run_id)
            result = model.fit(frame, settings, snapshot.k, previous)
            result.metrics.update(predecessor)
            registry.store(wh, run_id, as_of_date, result, previous)
        else:
            sample = features.load_features(wh, run_id, settings.max_training_customers, settings.random_seed)
            result = model.fit(sample, settings, snapshot.k, previous)
            result.metrics.update(predecessor)
            registry.store(wh, run_id, as_of_date, result, previous, with_assignments=False)
            scored = registry.score_in_sql(wh, run_id, as_of_date, previous)
            # Sizes and migration over every customer; the other metrics describe the sample.
            result.metrics.update(model.size_metrics(scored["sizes"], result.model))
            result.metrics.update(scored.get("migration", {}))
            registry.update_metrics(wh, run_id, result.metrics)
        detail.update(k=result.model.k, metrics=result.metrics, scored_in="pandas" if in_memory else "sql",
                      training_customers=result.training_customers, table="internal.customer_assignments")
    return detail


def quality_gate_stage(wh: psycopg.Connection, snapshot: Snapshot, settings: Settings) -> dict:
    """Refuse to publish a snapshot that fails the configured checks."""
    metrics = registry.metrics(wh, snapshot.run_id)
    predecessor_date = metrics.get("predecessor_as_of_date")
    failures = model.quality_failures(
        metrics, settings,
        totals=registry.run_totals(wh, snapshot.run_id),
        predecessor=registry.snapshot_totals(wh, dt.date.fromisoformat(predecessor_date)) if predecessor_date else None,
        published=registry.snapshot_totals(wh, snapshot.as_of_date),
        force=snapshot.force or snapshot.full_refresh,
    )
    if failures:
        reason = "; ".join(failures)
        warehouse.record_stage(wh, snapshot.run_id, snapshot.as_of_date, "quality_gate", "refused", {"reason": reason})
        raise QualityGateError(f"Snapshot {snapshot.as_of_date} refused by the quality gate: {reason}.")
    warehouse.record_stage(wh, snapshot.run_id, snapshot.as_of_date, "quality_gate", "success",
                           {"seconds": 0.0, "predecessor_as_of_date": predecessor_date})
    return {"passed": True}


def publish_stage(wh: psycopg.Connection, snapshot: Snapshot, extracted: dict, featured: dict) -> dict:
    """Replace the snapshot in the published tables, atomically.

    A retry after a publish that committed (its acknowledgement lost with the connection) finds
    its own run published and succeeds without writing again.
    """
    with recorded_stage(wh, snapshot, "publish") as detail:
        detail.update(table="segments.customer_segments", as_of_date=snapshot.as_of_date.isoformat())
        if publish.is_published(wh, snapshot.run_id, snapshot.as_of_date):
            detail["already_published"] = True
            return detail
        seconds = warehouse.stage_seconds(wh, snapshot.run_id)
        summary = features.FeatureSummary(featured["customers_segmented"], featured["customers_excluded"])
        facts = publish.ExtractFacts(_window(extracted), extracted["changed_days_reextracted"],
                                     extracted["source_lines_dated_after_run"])
        publish.publish(wh, snapshot.run_id, snapshot.as_of_date, facts, summary, seconds)
    return detail


def confirm_publish(wh: psycopg.Connection, snapshot: Snapshot, lost: ConnectionLostError) -> dict:
    """After publish lost its connection, on a new one: success if the run's snapshot committed, else `lost`.

    The connection may break after the publishing transaction committed but before its
    acknowledgement or the stage's record: that publish happened and must not be reported failed.
    """
    if not publish.is_published(wh, snapshot.run_id, snapshot.as_of_date):
        raise lost
    detail = {"table": "segments.customer_segments", "as_of_date": snapshot.as_of_date.isoformat(),
              "already_published": True, "confirmed_after": str(lost)}
    warehouse.record_stage(wh, snapshot.run_id, snapshot.as_of_date, "publish", "success", detail)
    log.warning("Snapshot %s was published by this run before the warehouse connection broke (%s); "
                "confirmed on a new connection.", snapshot.as_of_date, lost)
    return detail


def _window(extracted: dict) -> extracting.ExtractWindow:
    return extracting.ExtractWindow(
        dt.date.fromisoformat(extracted["window_start"]), dt.date.fromisoformat(extracted["window_end"])
    )
