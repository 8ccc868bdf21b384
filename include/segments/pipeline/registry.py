"""Fitted models and their assignments, stored in the warehouse as plain data (never pickles)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from segments import queries
from segments.pipeline import warehouse as warehouse_state
from segments.pipeline.model import (
    FitResult,
    PreviousSnapshot,
    Scaler,
    SegmentModel,
    SnapshotTotals,
    library_versions,
    migration_metrics,
)
from segments.settings import ALL_FEATURES


def store(
    warehouse: psycopg.Connection,
    run_id: str,
    as_of_date: dt.date,
    result: FitResult,
    previous: PreviousSnapshot | None,
    with_assignments: bool = True,
) -> None:
    """Replace the run's stored model and centroids, and the customers' assignments unless scored
    in SQL; with the assignments, their migration from `previous` joins the stored metrics (and
    `result.metrics`)."""
    model = result.model
    original = model.centroids_original()
    params = {
        "run_id": run_id,
        "as_of_date": as_of_date,
        "k": model.k,
        "features": list(model.scaler.features),
        "scaler": Jsonb(model.scaler.to_dict()),
        "metrics": Jsonb(result.metrics),
        "k_selection": Jsonb(result.k_selection) if result.k_selection else None,
        "training_customers": result.training_customers,
        "library_versions": Jsonb(library_versions()),
    }
    centroid_rows = [
        {
            "run_id": run_id,
            "segment_id": segment_id,
            "segment_name": name,
            "feature": feature,
            "centroid_scaled": float(model.centroids[row, column]),
            "centroid_original": float(original[row, column]),
        }
        for row, (segment_id, name) in enumerate(zip(model.segment_ids, model.segment_names))
        for column, feature in enumerate(model.scaler.features)
    ]
    definition_rows = [{"run_id": run_id, **asdict(definition)} for definition in result.definitions]
    (insert_centroid,) = queries.statements("internal/segment_centroids__insert.sql")
    (insert_definition,) = queries.statements("internal/segment_definitions__insert.sql")
    (copy_assignments,) = queries.statements("internal/customer_assignments__copy.sql")
    with warehouse.transaction():
        queries.execute(warehouse, "internal/segment_model__delete.sql",
                        {**params, "run_ids": [run_id, *warehouse_state.abandoned_runs(warehouse)]})
        queries.execute(warehouse, "internal/segment_model__insert.sql", params)
        with warehouse.cursor() as cursor:
            cursor.executemany(insert_centroid, centroid_rows)
            cursor.executemany(insert_definition, definition_rows)
            if with_assignments:
                with cursor.copy(copy_assignments) as copy:
                    copy.write(_copy_text(run_id, result.assignments))
    if with_assignments:
        analyze_assignments(warehouse, len(result.assignments))
    # After the statistics (which Citus cannot take inside the transaction that wrote the rows):
    # planned without them, the count probes the previous snapshot's key once per customer
    # instead of hashing both sides. Until it is stored, the run has no migration metrics, and no
    # later stage reads them before this one succeeds.
    if with_assignments and previous is not None:
        result.metrics.update(migration(warehouse, run_id, previous))
        update_metrics(warehouse, run_id, result.metrics)


def analyze_assignments(warehouse: psycopg.Connection, assigned: int) -> None:
    """Statistics that count the run's `assigned` customers, when they are needed (outside the
    transaction that wrote them, which Citus requires)."""
    warehouse_state.analyze_when_stale(warehouse, "internal/analyze_customer_assignments.sql",
                                       "internal.customer_assignments", assigned)


# What COPY's text format escapes in a value (any customer id may hold them).
_COPY_TEXT_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy_text(run_id: str, assignments: pd.Series) -> bytes:
    """The run's assignments (segment id by customer id) as rows of COPY's text format, built
    column by column: half the time of a write_row call per customer."""
    (run,) = _escaped(pd.Series([run_id]))
    customer_ids = _escaped(assignments.index.to_series())
    segment_ids = assignments.astype(int).astype(str)
    return (run + "\t" + customer_ids + "\t" + segment_ids + "\n").str.cat().encode()


def _escaped(values: pd.Series) -> pd.Series:
    """Text values as COPY's text format writes them."""
    for character, escaped in _COPY_TEXT_ESCAPES:
        values = values.str.replace(character, escaped, regex=False)
    return values


def load(warehouse: psycopg.Connection, run_id: str) -> SegmentModel:
    """Rebuild a stored model exactly as it was fitted."""
    return _stored(warehouse, run_id)[0]


def metrics(warehouse: psycopg.Connection, run_id: str) -> dict:
    """The quality metrics stored with a run's model."""
    return _stored(warehouse, run_id)[1]


def _stored(warehouse: psycopg.Connection, run_id: str) -> tuple[SegmentModel, dict]:
    """A stored model and its metrics, from one read."""
    rows = queries.fetch_all(warehouse, "internal/segment_model__select.sql", {"run_id": run_id})
    if not rows:
        raise LookupError(f"No stored model for run {run_id!r}: did the train task run?")
    scaler = Scaler.from_dict(rows[0]["scaler"])
    width = len(scaler.features)
    segments = rows[::width]
    model = SegmentModel(
        scaler=scaler,
        centroids=np.array([row["centroid_scaled"] for row in rows]).reshape(len(segments), width),
        segment_ids=tuple(row["segment_id"] for row in segments),
        segment_names=tuple(row["segment_name"] for row in segments),
    )
    return model, rows[0]["metrics"]


def predecessor(warehouse: psycopg.Connection, as_of_date: dt.date, max_gap_days: int) -> PreviousSnapshot | None:
    """The snapshot `as_of_date` continues: the latest published at most `max_gap_days` before it.

    Its date and model; None means a fresh start. Bounding the gap is
    what makes a rerun give the same snapshot after backfills of distant dates.
    """
    found = queries.fetch_all(warehouse, "segments/predecessor_snapshot.sql", {
        "as_of_date": as_of_date, "earliest_as_of_date": as_of_date - dt.timedelta(days=max_gap_days),
    })
    if not found:
        return None
    previous_date, previous_run = found[0]["as_of_date"], found[0]["run_id"]
    model, model_metrics = _stored(warehouse, previous_run)
    return PreviousSnapshot(as_of_date=previous_date, model=model,
                            fresh_fit_inertia_per_customer=model_metrics.get("fresh_fit_inertia_per_customer"))


def score_in_sql(
    warehouse: psycopg.Connection, run_id: str, as_of_date: dt.date, previous: PreviousSnapshot | None
) -> dict:
    """Assign every customer of the snapshot inside the warehouse; return sizes and migration counts."""
    params = {"run_id": run_id, "as_of_date": as_of_date}
    fragments, model_params = scoring_fragments(load(warehouse, run_id))
    with warehouse.transaction():
        scored = queries.execute(warehouse, "internal/customer_assignments__score.sql", {**params, **model_params},
                                 fragments)
    analyze_assignments(warehouse, scored)
    sizes = {row["segment_id"]: row["customers"] for row in
             queries.fetch_all(warehouse, "internal/customer_assignments__summary.sql", params)}
    summary = {"sizes": sizes}
    if previous is not None:
        summary["migration"] = migration(warehouse, run_id, previous)
    return summary


def scoring_fragments(model: SegmentModel) -> tuple[dict[str, sql.Composable], dict[str, float | int]]:
    """A stored model as the columns of internal/customer_assignments__score.sql, and its numbers
    as that statement's parameters: SegmentModel.assign's arithmetic, on one row per customer."""
    unknown = set(model.scaler.features) - set(ALL_FEATURES)
    if unknown:
        raise ValueError(f"The stored model uses unknown features {sorted(unknown)}; it cannot be scored in SQL.")
    steps = ("clip_low", "clip_high", "mean", "scale")
    features = range(len(model.scaler.features))

    def scaled(position: int) -> sql.Identifier:
        return sql.Identifier(f"scaled_{position}")

    def distance(row: int) -> sql.Identifier:
        return sql.Identifier(f"distance_squared_{row}")

    params: dict[str, float | int] = {}
    scaled_columns, distance_columns = [], []
    for position, feature in enumerate(model.scaler.features):
        params.update({f"{step}_{position}": float(getattr(model.scaler, step)[position]) for step in steps})
        scaled_columns.append(sql.SQL(
            "(least(greatest(ln(1 + greatest({feature}::float8, 0)), {clip_low}), {clip_high}) - {mean}) / {scale} "
            "as {scaled}"
        ).format(feature=sql.Identifier(feature), scaled=scaled(position),
                 **{step: sql.Placeholder(f"{step}_{position}") for step in steps}))
    for row, segment_id in enumerate(model.segment_ids):
        params[f"segment_id_{row}"] = int(segment_id)
        params.update({f"centroid_{row}_{position}": float(model.centroids[row, position]) for position in features})
        terms = (sql.SQL("({} - {}) ^ 2").format(scaled(position), sql.Placeholder(f"centroid_{row}_{position}"))
                 for position in features)
        distance_columns.append(sql.SQL("{} as {}").format(sql.SQL(" + ").join(terms), distance(row)))
    smallest = sql.SQL("least({})").format(sql.SQL(", ").join(distance(row) for row in range(model.k)))
    # Centroids are stored in segment id order: the first of equal distances is the lowest id.
    nearest = sql.SQL("case {} end").format(sql.SQL(" ").join(
        sql.SQL("when {} = {} then {}").format(distance(row), smallest, sql.Placeholder(f"segment_id_{row}"))
        for row in range(model.k)))
    return {"scaled_features": sql.SQL(", ").join(scaled_columns),
            "distances_squared": sql.SQL(", ").join(distance_columns), "nearest_segment_id": nearest}, params


def migration(warehouse: psycopg.Connection, run_id: str, previous: PreviousSnapshot) -> dict:
    """How many customers in both the run's assignments and the previous snapshot changed segment."""
    (moves,) = queries.fetch_all(warehouse, "internal/customer_assignments__migration.sql",
                                 {"run_id": run_id, "previous_as_of_date": previous.as_of_date})
    return migration_metrics(**moves)


def snapshot_totals(warehouse: psycopg.Connection, as_of_date: dt.date) -> SnapshotTotals | None:
    """Customers and revenue of a published snapshot; None when the date is not published."""
    rows = queries.fetch_all(warehouse, "segments/snapshot_totals.sql", {"as_of_date": as_of_date})
    return SnapshotTotals(**rows[0]) if rows else None


def run_totals(warehouse: psycopg.Connection, run_id: str) -> SnapshotTotals:
    """Customers and revenue the run would publish."""
    (row,) = queries.fetch_all(warehouse, "intermediate/int_customer_features__totals.sql", {"run_id": run_id})
    return SnapshotTotals(**row)


def update_metrics(warehouse: psycopg.Connection, run_id: str, metrics: dict) -> None:
    """Replace a stored model's metrics."""
    queries.execute(warehouse, "internal/segment_model__update_metrics.sql",
                    {"run_id": run_id, "metrics": Jsonb(metrics)})
