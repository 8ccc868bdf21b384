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
from segments.errors import InvalidParameterError, QualityGateError
from segments.settings import Settings

log = logging.getLogger(__name__)


def snapshot_date(logical_date: dt.datetime | None, run_after: dt.datetime, timezone: str) -> dt.date:
    """The business day a run publishes: its logical date's day in the business timezone.

    A manual run may have no logical date; then the day it was asked to run after counts.
    """
    moment = logical_date if logical_date is not None else run_after
    return moment.astimezone(ZoneInfo(timezone)).date()


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
    return {
        "as_of_date": snapshot_date(logical_date, run_after, settings.timezone).isoformat(),
        "run_id": run_id,
        "k": _parse_k(params.get("k", settings.k)),
        "lookback_days": lookback_days,
        "history_days": None if history_days is None else int(history_days),
        "full_refresh": bool(params.get("full_refresh", False)),
    }


def _parse_k(value: int | str) -> int | str:
    try:
        return model.parse_k(value)
    except ValueError as error:
        raise InvalidParameterError(str(error)) from None


def _as_of(snapshot: dict) -> dt.date:
    return dt.date.fromisoformat(snapshot["as_of_date"])


@contextmanager
def _stage(wh: psycopg.Connection, snapshot: dict, name: str, detail: dict) -> Iterator[dict]:
    """Time a stage and record how it ended; `detail` is filled in by the stage."""
    started = time.perf_counter()
    try:
        yield detail
    except Exception as error:
        detail.update(error=str(error), seconds=round(time.perf_counter() - started, 3))
        warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), name, "failed", detail)
        raise
    detail["seconds"] = round(time.perf_counter() - started, 3)
    warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), name, "success", detail)
    log.info("%s for %s: %s", name, snapshot["as_of_date"], detail)


def extract_stage(source: psycopg.Connection, wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Prepare the warehouse and copy the re-read window of source lines into it."""
    warehouse.ensure_schema(wh)
    with _stage(wh, snapshot, "extract", {}) as detail:
        window = extracting.plan_window(
            wh, source, settings.source_table, _as_of(snapshot), snapshot["lookback_days"], snapshot["full_refresh"]
        )
        result = extracting.extract(source, wh, window, snapshot["run_id"], settings.source_table)
        detail.update(result.as_dict())
    return detail


def transform_stage(wh: psycopg.Connection, snapshot: dict, extracted: dict, settings: Settings) -> dict:
    """Classify the window's lines and refresh the daily aggregates for its days."""
    window = _window(extracted)
    with _stage(wh, snapshot, "aggregates", {}) as detail:
        counts = transform.refresh_window(wh, window, settings)
        detail["line_counts"] = [count.__dict__ for count in counts]
        detail["lines_classified"] = sum(count.lines for count in counts)
    if detail["lines_classified"] != extracted["lines_extracted"]:
        raise RuntimeError(
            f"{extracted['lines_extracted']} lines were extracted but {detail['lines_classified']} classified; "
            "a concurrent run may have rewritten the window. Rerun this date."
        )
    return detail


def features_stage(wh: psycopg.Connection, snapshot: dict) -> dict:
    """Compute the snapshot's per-customer features in SQL."""
    with _stage(wh, snapshot, "features", {}) as detail:
        summary = features.build_features(wh, _as_of(snapshot), snapshot["history_days"])
        detail.update(summary.__dict__, table="intermediate.int_customer_features")
    return detail


def train_stage(wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Fit, name and identify the segments; store the model and every customer's assignment.

    Up to `max_training_customers` customers, everything happens on one DataFrame row per
    customer. Beyond it, the model learns from a seeded sample of that size and every customer
    is assigned inside the warehouse, in SQL, from the stored model.
    """
    with _stage(wh, snapshot, "training", {}) as detail:
        as_of_date, run_id = _as_of(snapshot), snapshot["run_id"]
        customers = features.summary(wh, as_of_date).customers_segmented
        in_memory = customers <= settings.max_training_customers
        previous = registry.previous_snapshot(wh, as_of_date, with_assignments=in_memory)
        if in_memory:
            frame = features.load_features(wh, as_of_date, seed=settings.random_seed)
            result = model.fit(frame, settings, snapshot["k"], previous)
            registry.store(wh, run_id, as_of_date, result)
        else:
            sample = features.load_features(wh, as_of_date, settings.max_training_customers, settings.random_seed)
            result = model.fit(sample, settings, snapshot["k"], previous)
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
    """Refuse to publish a model that fails the configured checks."""
    metrics = registry.metrics(wh, snapshot["run_id"])
    failures = model.quality_failures(metrics, settings)
    if failures:
        reason = "; ".join(failures)
        warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), "quality_gate", "refused", {"reason": reason})
        raise QualityGateError(f"Model for {snapshot['as_of_date']} refused by the quality gate: {reason}.")
    warehouse.record_stage(wh, snapshot["run_id"], _as_of(snapshot), "quality_gate", "success", {"seconds": 0.0})
    return {"passed": True}


def publish_stage(wh: psycopg.Connection, snapshot: dict, extracted: dict, featured: dict) -> dict:
    """Replace the snapshot in the published tables, atomically."""
    with _stage(wh, snapshot, "publishing", {}) as detail:
        seconds = warehouse.stage_seconds(wh, snapshot["run_id"])
        summary = features.FeatureSummary(featured["customers_segmented"], featured["customers_excluded"])
        publish.publish(wh, snapshot["run_id"], _as_of(snapshot), _window(extracted), summary, seconds)
        detail.update(table="segments.customer_segments", as_of_date=snapshot["as_of_date"])
    return detail


def report_stage(wh: psycopg.Connection, snapshot: dict, settings: Settings) -> dict:
    """Write the snapshot's HTML report and charts (from the published tables only)."""
    from segments import report

    with _stage(wh, snapshot, "report", {}) as detail:
        path = report.build_report(wh, _as_of(snapshot), settings.reports_dir)
        warehouse.record_report(wh, snapshot["run_id"], _as_of(snapshot), path)
        detail["report_path"] = str(path)
    return detail


def failure_summary(wh: psycopg.Connection | None, as_of_date: str | None, task_id: str, error: BaseException | None) -> str:
    """One paragraph for the person on call: what failed, for which date, what is still published."""
    try:
        current = warehouse.current_snapshot(wh) if wh is not None else None
        still = (
            f"Analysts still see snapshot {current['as_of_date']} (run {current['run_id']}, "
            f"{current['customers_segmented']} customers), unchanged."
            if current else "No snapshot has been published yet."
        )
    except psycopg.Error:
        still = "The warehouse could not be asked what is published."
    if wh is None:
        still = "The warehouse could not be reached to check what is published."
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
