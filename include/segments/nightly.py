"""The nightly job's stages as plain functions: connections and small dicts in, small dicts out.

The DAG calls one function per task and passes their return values (dates, counts, table
names) between tasks through XCom; DataFrames never leave a stage.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import psycopg

from segments import extract as extracting
from segments import features, model, publish, registry, transform, warehouse
from segments.errors import (
    ConnectionLostError, InsufficientDataError, InvalidParameterError, QualityGateError, SnapshotDateError,
)
from segments.settings import Settings

log = logging.getLogger(__name__)

# DAG run states of a run that has not finished yet, and task states of a task that has.
UNFINISHED_RUN_STATES = ("queued", "running")
FINISHED_TASK_STATES = ("success", "failed", "upstream_failed", "skipped", "removed")


def snapshot_date(logical_date: dt.datetime | None, run_after: dt.datetime, timezone: str) -> dt.date:
    """The business day a run publishes: its logical date's day in the business timezone.

    A manual run may have no logical date; then the day it was asked to run after counts.
    """
    moment = logical_date if logical_date is not None else run_after
    return moment.astimezone(ZoneInfo(timezone)).date()


def business_now(settings: Settings) -> dt.datetime:
    """The current wall-clock time in the business timezone, as the shop's tills record it (naive)."""
    return dt.datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)


def resolve_snapshot(
    logical_date: dt.datetime | None, run_after: dt.datetime, run_id: str, params: dict, settings: Settings
) -> dict:
    """Validate the run's params and fix what it publishes; fails before any work on a bad value."""
    lookback_days = int(params.get("lookback_days", settings.lookback_days))
    if not 0 <= lookback_days <= 365:
        raise InvalidParameterError(f"lookback_days must be from 0 to 365, got {lookback_days}.")
    history_days = params.get("history_days")
    if history_days is not None and not 30 <= int(history_days) <= 36_500:
        raise InvalidParameterError(f"history_days must be empty or from 30 to 36500, got {history_days}.")
    as_of_date = snapshot_date(logical_date, run_after, settings.timezone)
    started_at = business_now(settings)
    if as_of_date > started_at.date():
        raise SnapshotDateError(
            f"Snapshot {as_of_date} is in the future (today is {started_at.date()} in {settings.timezone}); "
            "a snapshot describes what was known on its date, so it can only be published once that day has "
            "come. Nothing was done; choose today or an earlier date."
        )
    return {
        "as_of_date": as_of_date.isoformat(),
        "run_id": run_id,
        "started_at": started_at.isoformat(),
        "k": _parse_k(params.get("k", settings.k)),
        "lookback_days": lookback_days,
        "history_days": None if history_days is None else int(history_days),
        "full_refresh": bool(params.get("full_refresh", False)),
        "force": bool(params.get("force", False)),
    }


def earlier_run_blocks(previous_logical_date: dt.datetime | None, previous_state: str | None,
                       previous_publish_state: str | None, as_of_date: str, settings: Settings) -> bool:
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
    gap_days = (dt.date.fromisoformat(as_of_date) - previous_as_of).days
    return 0 <= gap_days <= settings.predecessor_max_gap_days


def _parse_k(value: int | str) -> int | str:
    try:
        return model.parse_k(value)
    except ValueError as error:
        raise InvalidParameterError(str(error)) from None


def _as_of(snapshot: dict) -> dt.date:
    return dt.date.fromisoformat(snapshot["as_of_date"])


@contextmanager
def _stage(wh: psycopg.Connection, snapshot: dict, name: str, detail: dict) -> Iterator[dict]:
    """Time a stage and record how it ended; `detail` is filled in by the stage.

    A stage whose connection broke (in its work or while recording it) cannot record anything
    on it: it fails saying so instead.
    """
    started = time.perf_counter()
    try:
        yield detail
        detail["seconds"] = round(time.perf_counter() - started, 3)
        warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), name, "success", detail)
    except Exception as error:
        if wh.broken:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConnectionLostError(
                f"The warehouse connection broke in stage {name} ({reason}): the server restarted or became "
                "unreachable, and whatever the stage had not committed was rolled back"
            ) from error
        detail.update(error=str(error), seconds=round(time.perf_counter() - started, 3))
        warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), name, "failed", detail)
        raise
    log.info("%s for %s: %s", name, snapshot["as_of_date"], detail)


def extract_stage(source: psycopg.Connection, wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Prepare the warehouse and bring its raw lines up to date with the source for every day before D."""
    warehouse.ensure_schema(wh, settings)
    with _stage(wh, snapshot, "extract", {}) as detail:
        result = extracting.extract(
            source, wh, _as_of(snapshot), snapshot["lookback_days"], snapshot["full_refresh"], snapshot["run_id"],
            settings.source_table, settings.max_source_staleness_days, settings.lock_timeout_seconds,
        )
        detail.update(result.as_dict())
        future = extracting.lines_dated_after(source, settings.source_table, dt.datetime.fromisoformat(snapshot["started_at"]))
        detail["source_lines_dated_after_run"] = future
        if future:
            log.warning("%s source lines are dated after this run started (%s): they belong to no snapshot "
                        "until their date comes; check the shop's clock or test data.", future, snapshot["started_at"])
    return detail


def transform_stage(wh: psycopg.Connection, snapshot: dict, extracted: dict, settings: Settings) -> dict:
    """Classify the lines of every changed day and rebuild their daily aggregates."""
    window = _window(extracted)
    with _stage(wh, snapshot, "aggregates", {}) as detail:
        with wh.transaction():
            warehouse.lock_shared_models(wh, snapshot["run_id"], "aggregates", settings.lock_timeout_seconds)
            detail["days_rebuilt"] = transform.refresh_pending_days(wh, settings)
            unclassified = transform.unclassified_lines(wh, window)
            counts = transform.window_line_counts(wh, window)
        transform.analyze(wh)
        if unclassified:
            raise RuntimeError(
                f"{unclassified} extracted lines of {window.start}..{window.end} are not classified exactly once; "
                "the aggregates are inconsistent. Rerun the date with full_refresh=true."
            )
        detail["line_counts"] = [count.__dict__ for count in counts]
        detail["lines_classified"] = sum(count.lines for count in counts)
    return detail


def features_stage(wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Compute the snapshot's per-customer features in SQL, as this run's own rows.

    Under the write lock, any day another run extracted but has not aggregated yet is rebuilt
    first, so the features always read complete aggregates, however runs interleave.
    """
    with _stage(wh, snapshot, "features", {}) as detail:
        with wh.transaction():
            warehouse.lock_shared_models(wh, snapshot["run_id"], "features", settings.lock_timeout_seconds)
            days_rebuilt = transform.refresh_pending_days(wh, settings)
            summary = features.build_features(wh, snapshot["run_id"], _as_of(snapshot), snapshot["history_days"])
        if days_rebuilt:
            transform.analyze(wh)
        features.analyze(wh)
        detail.update(summary.__dict__, days_rebuilt=days_rebuilt, table="intermediate.int_customer_features")
        if summary.customers_segmented == 0:
            raise InsufficientDataError(
                f"No customer has a net purchase before {snapshot['as_of_date']} "
                f"({summary.customers_excluded} customers have only returns, guest or excluded lines): there is "
                "nothing to segment. Nothing was published; choose a later date or check the source's customer ids."
            )
    return detail


def train_stage(wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Fit, name and identify the segments; store the model and every customer's assignment.

    The model continues the snapshot's predecessor (warm start, segment ids, migration) when one
    was published at most `predecessor_max_gap_days` before; otherwise it starts afresh.
    Up to `max_training_customers` customers, everything happens on one DataFrame row per
    customer. Beyond it, the model learns from a seeded sample of that size and every customer
    is assigned inside the warehouse, in SQL, from the stored model.
    """
    with _stage(wh, snapshot, "training", {}) as detail:
        as_of_date, run_id = _as_of(snapshot), snapshot["run_id"]
        customers = features.summary(wh, run_id).customers_segmented
        in_memory = customers <= settings.max_training_customers
        previous = registry.predecessor(wh, as_of_date, settings.predecessor_max_gap_days, with_assignments=in_memory)
        predecessor = {"predecessor_as_of_date": previous.as_of_date.isoformat() if previous else None}
        if in_memory:
            frame = features.load_features(wh, run_id, seed=settings.random_seed)
            result = model.fit(frame, settings, snapshot["k"], previous)
            result.metrics.update(predecessor)
            registry.store(wh, run_id, as_of_date, result)
        else:
            sample = features.load_features(wh, run_id, settings.max_training_customers, settings.random_seed)
            result = model.fit(sample, settings, snapshot["k"], previous)
            result.metrics.update(predecessor)
            registry.store(wh, run_id, as_of_date, result, with_assignments=False)
            scored = registry.score_in_sql(wh, run_id, as_of_date, previous)
            # Sizes and migration over every customer; the other metrics describe the sample.
            result.metrics.update(model.size_metrics(scored["sizes"], result.model))
            if "migration" in scored:
                result.metrics.update(model.migration_metrics(**scored["migration"]))
            registry.update_metrics(wh, run_id, result.metrics)
        detail.update(k=result.model.k, metrics=result.metrics, scored_in="pandas" if in_memory else "sql",
                      training_customers=result.training_customers, table="internal.customer_assignments")
    return detail


def gate_stage(wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Refuse to publish a snapshot that fails the configured checks."""
    metrics = registry.metrics(wh, snapshot["run_id"])
    predecessor_date = metrics.get("predecessor_as_of_date")
    failures = model.quality_failures(
        metrics, settings,
        totals=registry.run_totals(wh, snapshot["run_id"]),
        predecessor=registry.snapshot_totals(wh, dt.date.fromisoformat(predecessor_date)) if predecessor_date else None,
        published=registry.snapshot_totals(wh, _as_of(snapshot)),
        force=snapshot.get("force", False) or snapshot["full_refresh"],
    )
    if failures:
        reason = "; ".join(failures)
        warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), "quality_gate", "refused", {"reason": reason})
        raise QualityGateError(f"Snapshot {snapshot['as_of_date']} refused by the quality gate: {reason}.")
    warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), "quality_gate", "success",
                           {"seconds": 0.0, "predecessor_as_of_date": predecessor_date})
    return {"passed": True}


def publish_stage(wh: psycopg.Connection, snapshot: dict, extracted: dict, featured: dict) -> dict:
    """Replace the snapshot in the published tables, atomically.

    A retry after a publish that committed (its acknowledgement lost with the connection) finds
    its own run published and succeeds without writing again.
    """
    with _stage(wh, snapshot, "publishing", {}) as detail:
        detail.update(table="segments.customer_segments", as_of_date=snapshot["as_of_date"])
        if publish.is_published(wh, snapshot["run_id"], _as_of(snapshot)):
            detail["already_published"] = True
            return detail
        seconds = warehouse.stage_seconds(wh, snapshot["run_id"])
        summary = features.FeatureSummary(featured["customers_segmented"], featured["customers_excluded"])
        facts = publish.ExtractFacts(_window(extracted), extracted["changed_days_reextracted"],
                                     extracted["source_lines_dated_after_run"])
        publish.publish(wh, snapshot["run_id"], _as_of(snapshot), facts, summary, seconds)
    return detail


def confirm_publish(wh: psycopg.Connection, snapshot: dict, lost: ConnectionLostError) -> dict:
    """After publish lost its connection, on a new one: success if the run's snapshot committed, else `lost`.

    The connection may break after the publishing transaction committed but before its
    acknowledgement or the stage's record: that publish happened and must not be reported failed.
    """
    if not publish.is_published(wh, snapshot["run_id"], _as_of(snapshot)):
        raise lost
    detail = {"table": "segments.customer_segments", "as_of_date": snapshot["as_of_date"],
              "already_published": True, "confirmed_after": str(lost)}
    warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), "publishing", "success", detail)
    log.warning("Snapshot %s was published by this run before the warehouse connection broke (%s); "
                "confirmed on a new connection.", snapshot["as_of_date"], lost)
    return detail


def report_stage(wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Write the snapshot's HTML report and charts (from the published tables only)."""
    from segments import report

    with _stage(wh, snapshot, "report", {}) as detail:
        path = report.build_report(wh, _as_of(snapshot), settings.reports_dir)
        warehouse.record_report(wh, snapshot["run_id"], _as_of(snapshot), path)
        detail["report_path"] = str(path)
    return detail


def what_analysts_see(wh: psycopg.Connection | None) -> str:
    """One sentence for the person on call: the snapshot analysts see now (None: the warehouse is unreachable)."""
    if wh is None:
        return "The warehouse could not be reached to check what is published."
    try:
        current = warehouse.current_snapshot(wh)
    except psycopg.Error:
        return "The warehouse could not be asked what is published."
    if current is None:
        return "No snapshot has been published yet."
    return (f"Analysts still see snapshot {current['as_of_date']} (run {current['run_id']}, "
            f"{current['customers_segmented']} customers), unchanged.")


def failure_summary(wh: psycopg.Connection | None, as_of_date: str | None, task_id: str, error: BaseException | None) -> str:
    """One paragraph for the person on call: what failed, for which date, what is still published."""
    still = what_analysts_see(wh)
    reason = str(error).rstrip(".") if error else "unknown error"
    published = (
        "The snapshot itself was published; only its report is missing (the Customer segments page "
        "rebuilds it on demand)." if task_id == "report" else "Nothing of this run was published."
    )
    return (
        f"Customer segmentation for {as_of_date or 'an unknown date'} failed in task {task_id}: {reason}. "
        f"{published} {still} "
        "Fix the cause and clear the failed task (or rerun the date) to retry; reruns are safe."
    )


def _window(extracted: dict) -> extracting.ExtractWindow:
    return extracting.ExtractWindow(
        dt.date.fromisoformat(extracted["window_start"]), dt.date.fromisoformat(extracted["window_end"])
    )
