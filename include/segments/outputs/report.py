"""What people read: the published segment profiles as a table, and a report per snapshot.

`profiles_table` prints the profiles in a terminal. `build_report` rebuilds, from the warehouse
alone, a self-contained HTML page (charts embedded as base64 PNG, inline CSS, no external
resources) plus the charts as PNG files, in `reports_dir/<as_of_date>/`. matplotlib and
scikit-learn are imported only when a report is built.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from tabulate import tabulate

from segments import queries
from segments.pipeline import warehouse
from segments.pipeline.snapshot import Snapshot
from segments.pipeline.stages import recorded_stage
from segments.settings import ALL_FEATURES, Settings

PROFILE_HEADERS = {
    "segment_id": "id",
    "segment_name": "segment",
    "customers": "customers",
    "customer_share": "% customers",
    "revenue": "revenue",
    "revenue_share": "% revenue",
    "median_recency_days": "median recency (days)",
    "median_frequency_invoices": "median invoices",
    "median_monetary_revenue": "median revenue",
    "mean_avg_order_revenue": "mean order value",
    "mean_items_per_order": "mean items/order",
}


def profiles_table(conn: psycopg.Connection, as_of_date: dt.date | None) -> str:
    """The segment profiles of a snapshot (default: the current one), as an aligned table."""
    try:
        if as_of_date is None:
            current = warehouse.current_snapshot(conn)
            if current is None:
                return "No snapshot published yet: run `segments run` first."
            as_of_date = current["as_of_date"]
        rows = queries.fetch_all(conn, "segments/segment_profiles__select.sql", {"as_of_date": as_of_date})
    except psycopg.errors.UndefinedTable:
        return "No snapshot published yet (the warehouse has no published tables): run `segments run` first."
    if not rows:
        return f"No snapshot published for {as_of_date}."
    table = [
        [
            row["segment_id"], row["segment_name"], f"{row['customers']:,}", f"{row['customer_share']:.1%}",
            f"{row['revenue']:,.0f}", f"{row['revenue_share']:.1%}", f"{row['median_recency_days']:,.0f}",
            f"{row['median_frequency_invoices']:,.0f}", f"{row['median_monetary_revenue']:,.0f}",
            f"{row['mean_avg_order_revenue']:,.0f}", f"{row['mean_items_per_order']:,.0f}",
        ]
        for row in rows
    ]
    headers = list(PROFILE_HEADERS.values())
    return f"Segment profiles as of {as_of_date}\n" + tabulate(table, headers=headers, stralign="right", disable_numparse=True)


# --------------------------------------------------------------------------------------------
# The HTML report
# --------------------------------------------------------------------------------------------

REPORT_FILE = "report.html"
# Every chart a report can hold, in page order; a rebuilt report removes the ones it no longer has.
CHART_FILES = ("segment_sizes.png", "profile_heatmap.png", "projection.png", "k_selection.png", "migrations.png")
# At most this many customers are drawn in the projection (a fixed-seed sample).
PROJECTION_SAMPLE = 5_000
# One colour per segment id (1 -> first), the same in every chart and every snapshot.
SEGMENT_PALETTE = ("#2f5d9e", "#e07b39", "#3c9a5f", "#c4453c", "#7d5ba6", "#8c6d46", "#d1609e", "#5f7a8a")
OTHER_COLOUR = "#9aa3ad"
FEATURE_LABELS = {
    "recency_days": "Recency\n(days)",
    "frequency_invoices": "Invoices",
    "monetary_revenue": "Revenue",
    "avg_order_revenue": "Order\nvalue",
    "items_per_order": "Items per\norder",
    "tenure_days": "Tenure\n(days)",
    "return_rate": "Return\nrate",
    "distinct_products": "Distinct\nproducts",
}
NEW, NOT_SEGMENTED = "(new)", "(not segmented)"
_RUN_ID_META = re.compile(r'<meta name="segments-run-id" content="([^"]*)"')


def segment_colour(segment_id: int) -> str:
    """The colour of a segment id in every chart."""
    return SEGMENT_PALETTE[(int(segment_id) - 1) % len(SEGMENT_PALETTE)]


@dataclass(frozen=True)
class Chart:
    file: str
    title: str
    caption: str
    png: bytes
    width_inches: float


def published_snapshots(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every published snapshot (as_of_date, run_id, k, customers_segmented), newest first."""
    return queries.fetch_all(conn, "reads/report_snapshots.sql")


def list_reports(reports_dir: Path) -> list[dt.date]:
    """Snapshot dates that have a report.html under `reports_dir`, newest first."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        return []
    dates = []
    for folder in reports_dir.iterdir():
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if (folder / REPORT_FILE).is_file():
            dates.append(day)
    return sorted(dates, reverse=True)


def report_path(reports_dir: Path, as_of_date: dt.date) -> Path:
    """Where the report of a snapshot lives."""
    return Path(reports_dir) / as_of_date.isoformat() / REPORT_FILE


def report_run_id(html_path: Path) -> str | None:
    """The run a report file was built from (None if the file is missing or has no marker)."""
    try:
        with open(html_path, encoding="utf-8") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    found = _RUN_ID_META.search(head)
    return html.unescape(found.group(1)) if found else None


def report_stage(wh: psycopg.Connection, snapshot: Snapshot, settings: Settings) -> dict:
    """The DAG's last stage: write the snapshot's HTML report and charts (from the published tables only)."""
    with recorded_stage(wh, snapshot, "report") as detail:
        path = build_report(wh, snapshot.as_of_date, settings.reports_dir)
        warehouse.record_report(wh, snapshot.run_id, snapshot.as_of_date, path)
        detail["report_path"] = str(path)
    return detail


def build_report(conn: psycopg.Connection, as_of_date: dt.date, reports_dir: Path) -> Path:
    """Rebuild the report of a published snapshot from the warehouse; return report.html's path.

    Writes `reports_dir/<as_of_date>/report.html` and one PNG per chart; the HTML is written
    last, so a reader never sees a half-built report. Only reads the warehouse.
    """
    from segments.pipeline import registry  # imports scikit-learn: only when a report is built

    runs = queries.fetch_all(conn, "reads/report_run.sql", {"as_of_date": as_of_date})
    if not runs:
        published = [row["as_of_date"].isoformat() for row in published_snapshots(conn)[:5]]
        choices = f"published snapshots include {', '.join(published)}" if published else "nothing is published yet"
        raise LookupError(
            f"Snapshot {as_of_date} is not published in the warehouse, so it has no report ({choices}). "
            f"Publish it first (`segments run --as-of {as_of_date}`) or pick a published date."
        )
    run = runs[0]
    segments = queries.fetch_all(conn, "segments/segment_profiles__select.sql", {"as_of_date": as_of_date})
    zscores = queries.fetch_frame(conn, "reads/report_profile_zscores.sql", {"as_of_date": as_of_date})
    customers = queries.fetch_frame(conn, "reads/report_customers.sql", {"as_of_date": as_of_date})
    migrations = queries.fetch_frame(conn, "reads/report_migrations.sql", {"as_of_date": as_of_date})
    model = registry.load(conn, run["run_id"])

    charts = [
        _segment_sizes_chart(segments),
        _profile_heatmap_chart(segments, zscores, tuple(run["model_features"])),
        _projection_chart(customers, model, segments),
    ]
    if run["k_selection"]:
        charts.append(_k_selection_chart(run["k_selection"], run["k"]))
    if not migrations.empty:
        charts.append(_migrations_chart(migrations, segments))

    folder = Path(reports_dir) / as_of_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for chart in charts:
        _write_atomically(folder / chart.file, chart.png)
    produced = {chart.file for chart in charts}
    for stale in CHART_FILES:
        if stale not in produced:
            (folder / stale).unlink(missing_ok=True)
    page = _render_html(run, segments, charts)
    path = folder / REPORT_FILE
    _write_atomically(path, page.encode("utf-8"))
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    """Write next to the target, then rename: readers see the old file or the new one, never half."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)


# --------------------------------------------------------------------------------------------
# Charts: matplotlib's object API on the Agg canvas (no pyplot, no global backend switch)
# --------------------------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=144, layout="constrained")
    figure.set_facecolor("white")
    return figure


def _style(axes) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.spines["left"].set_color("#c9ced6")
    axes.spines["bottom"].set_color("#c9ced6")
    axes.tick_params(colors="#39424e", labelsize=9)


def _chart(file: str, title: str, caption: str, figure) -> Chart:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
    return Chart(file, title, caption, buffer.getvalue(), float(figure.get_figwidth()))


def _segment_sizes_chart(segments: list[dict]) -> Chart:
    names = [row["segment_name"] for row in segments]
    customer_shares = [float(row["customer_share"]) * 100 for row in segments]
    revenue_shares = [float(row["revenue_share"] or 0) * 100 for row in segments]
    colours = [segment_colour(row["segment_id"]) for row in segments]
    figure = _figure(8, 1.0 + 0.85 * len(segments))
    axes = figure.add_subplot()
    positions = np.arange(len(segments))
    height = 0.38
    customer_bars = axes.barh(positions - height / 2, customer_shares, height, color=colours, alpha=0.38,
                              edgecolor=colours, linewidth=1.2, label="% of customers")
    revenue_bars = axes.barh(positions + height / 2, revenue_shares, height, color=colours, label="% of revenue")
    for bars in (customer_bars, revenue_bars):
        axes.bar_label(bars, fmt="%.0f%%", padding=3, fontsize=9, color="#39424e")
    axes.set_yticks(positions, names, fontsize=10)
    axes.invert_yaxis()
    axes.set_xlim(0, max([*customer_shares, *revenue_shares, 1]) * 1.15)
    axes.set_xlabel("% of the snapshot", fontsize=9, color="#39424e")
    axes.xaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    axes.grid(axis="x", color="#eef0f3")
    axes.set_axisbelow(True)
    _style(axes)
    for label, colour in zip(axes.get_yticklabels(), colours):
        label.set_color(colour)
        label.set_fontweight("bold")
    from matplotlib.patches import Patch

    figure.legend(
        handles=[Patch(facecolor="#8a94a3", alpha=0.38, edgecolor="#8a94a3", label="% of customers"),
                 Patch(facecolor="#8a94a3", label="% of revenue")],
        loc="outside upper right", ncol=2, frameon=False, fontsize=9,
    )
    return _chart("segment_sizes.png", "Segment sizes and revenue",
                  "Pale bars: share of the snapshot's customers; solid bars: share of their net revenue.", figure)


def _profile_heatmap_chart(segments: list[dict], zscores: pd.DataFrame, model_features: tuple[str, ...]) -> Chart:
    from matplotlib.colors import TwoSlopeNorm

    ids = [row["segment_id"] for row in segments]
    matrix = (
        zscores.assign(z_score=zscores["z_score"].astype(float))
        .pivot(index="segment_id", columns="feature", values="z_score")
        .reindex(index=ids, columns=list(ALL_FEATURES))
        .fillna(0.0)
        .to_numpy()
    )
    limit = max(1.0, float(np.abs(matrix).max()) if matrix.size else 1.0)
    figure = _figure(9, 1.3 + 0.62 * len(segments))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -limit, limit), aspect="auto")
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            value = matrix[row, column]
            axes.text(column, row, f"{value:+.1f}", ha="center", va="center", fontsize=10,
                      color="white" if abs(value) > 0.55 * limit else "#1f2630")
    labels = [FEATURE_LABELS[feature] + (" *" if feature in model_features else "") for feature in ALL_FEATURES]
    axes.set_xticks(range(len(ALL_FEATURES)), labels, fontsize=9)
    axes.xaxis.tick_top()
    axes.set_yticks(range(len(segments)), [row["segment_name"] for row in segments], fontsize=10)
    for label, segment_id in zip(axes.get_yticklabels(), ids):
        label.set_color(segment_colour(segment_id))
        label.set_fontweight("bold")
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    colorbar = figure.colorbar(image, ax=axes, shrink=0.9, pad=0.02)
    colorbar.set_label("z-score vs all customers", fontsize=9)
    colorbar.ax.tick_params(labelsize=8)
    return _chart(
        "profile_heatmap.png", "Segment profiles",
        "Each cell: how far the segment's average log(1 + feature) sits from all customers', in standard "
        "deviations (red above, blue below). Recency counts days since the last purchase, so blue there means "
        "recent buyers. * marks the features the model uses.",
        figure,
    )


def _projection_chart(customers: pd.DataFrame, model, segments: list[dict]) -> Chart:
    from sklearn.decomposition import PCA

    features = list(model.scaler.features)
    frame = customers[features].astype(float)
    scaled = model.scaler.transform(frame)
    components = min(2, scaled.shape[1], len(scaled))
    pca = PCA(n_components=components, random_state=Settings().random_seed).fit(scaled)
    points = _two_columns(pca.transform(scaled))
    centroids = _two_columns(pca.transform(model.centroids))
    explained = list(pca.explained_variance_ratio_) + [0.0] * (2 - components)

    rng = np.random.default_rng(Settings().random_seed)
    sample = np.arange(len(points))
    if len(sample) > PROJECTION_SAMPLE:
        sample = np.sort(rng.choice(len(points), size=PROJECTION_SAMPLE, replace=False))
    segment_ids = customers["segment_id"].to_numpy()[sample]
    names = {row["segment_id"]: row["segment_name"] for row in segments}

    figure = _figure(8, 6)
    axes = figure.add_subplot()
    for segment_id in [row["segment_id"] for row in segments]:
        chosen = sample[segment_ids == segment_id]
        axes.scatter(points[chosen, 0], points[chosen, 1], s=7, alpha=0.45, linewidths=0,
                     color=segment_colour(segment_id), label=f"{names[segment_id]} ({len(chosen):,})")
    for position, (segment_id, name) in enumerate(zip(model.segment_ids, model.segment_names)):
        x, y = centroids[position]
        axes.scatter([x], [y], s=260, marker="X", color=segment_colour(segment_id), edgecolors="#1f2630",
                     linewidths=1.4, zorder=5)
        axes.annotate(name, (x, y), xytext=(10, 8), textcoords="offset points", fontsize=10, fontweight="bold",
                      color="#1f2630", zorder=6,
                      bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    axes.set_xlabel(f"Component 1 ({explained[0]:.0%} of the variance)", fontsize=9, color="#39424e")
    axes.set_ylabel(f"Component 2 ({explained[1]:.0%} of the variance)", fontsize=9, color="#39424e")
    axes.grid(color="#eef0f3")
    axes.set_axisbelow(True)
    _style(axes)
    legend = axes.legend(loc="best", frameon=True, fontsize=9, markerscale=2.5, title="Segment (customers drawn)",
                         title_fontsize=9)
    legend.get_frame().set_edgecolor("#e3e6ea")
    drawn = f"a random sample of {len(sample):,} of the {len(points):,} customers" if len(sample) < len(points) \
        else f"all {len(points):,} customers"
    return _chart(
        "projection.png", "Customers in two dimensions",
        f"Principal components of the model's scaled features ({', '.join(features)}); {drawn}. "
        "Crosses are the segment centroids.",
        figure,
    )


def _two_columns(values: np.ndarray) -> np.ndarray:
    if values.shape[1] >= 2:
        return values[:, :2]
    return np.column_stack([values, np.zeros((len(values), 2 - values.shape[1]))])


def _k_selection_chart(curve: list[dict], chosen_k: int) -> Chart:
    points = sorted(curve, key=lambda point: point["k"])
    ks = [point["k"] for point in points]
    silhouettes = [point["silhouette"] for point in points]
    figure = _figure(8, 3.6)
    axes = figure.add_subplot()
    axes.plot(ks, silhouettes, color="#b7bec8", linewidth=1.6, zorder=1)
    eligible = [point for point in points if point["eligible"]]
    ineligible = [point for point in points if not point["eligible"]]
    axes.scatter([p["k"] for p in eligible], [p["silhouette"] for p in eligible], s=55, color="#2f5d9e",
                 zorder=3, label="eligible")
    if ineligible:
        axes.scatter([p["k"] for p in ineligible], [p["silhouette"] for p in ineligible], s=55, color="#c3c8cf",
                     marker="X", zorder=3, label="ineligible (a segment below the minimum share)")
    chosen = next((point for point in points if point["k"] == chosen_k), None)
    if chosen is not None:
        axes.scatter([chosen_k], [chosen["silhouette"]], s=260, marker="*", color="#e07b39", edgecolors="#1f2630",
                     linewidths=0.8, zorder=4, label=f"chosen: k = {chosen_k}")
        axes.annotate(f"k = {chosen_k}\nsilhouette {chosen['silhouette']:.3f}", (chosen_k, chosen["silhouette"]),
                      xytext=(12, -4), textcoords="offset points", fontsize=9, va="top", color="#1f2630")
    axes.set_xticks(ks)
    axes.set_xlabel("k (number of segments)", fontsize=9, color="#39424e")
    axes.set_ylabel("silhouette", fontsize=9, color="#39424e")
    axes.grid(color="#eef0f3")
    axes.set_axisbelow(True)
    _style(axes)
    axes.margins(x=0.06, y=0.18)
    axes.legend(loc="best", frameon=False, fontsize=9)
    return _chart("k_selection.png", "Choosing k",
                  "Silhouette of K-Means for each candidate k (higher: better separated segments). A k whose "
                  "smallest segment falls below the minimum share is never chosen.", figure)


def _migrations_chart(migrations: pd.DataFrame, segments: list[dict]) -> Chart:
    previous_date = migrations["previous_as_of_date"].iloc[0]
    current_names = [row["segment_name"] for row in segments]
    colour_of = {row["segment_name"]: segment_colour(row["segment_id"]) for row in segments}

    def ordered(names: set[str], special: str) -> list[str]:
        known = [name for name in current_names if name in names]
        others = sorted(name for name in names if name not in current_names and name != special)
        return known + others + ([special] if special in names else [])

    rows = ordered(set(migrations["from_segment_name"]), NEW)
    columns = ordered(set(migrations["to_segment_name"]), NOT_SEGMENTED)
    counts = (
        migrations.assign(customers=migrations["customers"].astype(int))
        .pivot(index="from_segment_name", columns="to_segment_name", values="customers")
        .reindex(index=rows, columns=columns)
        .fillna(0)
        .to_numpy(dtype=int)
    )
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)

    figure = _figure(8.5, 1.4 + 0.7 * len(rows))
    axes = figure.add_subplot()
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for row in range(len(rows)):
        for column in range(len(columns)):
            count = counts[row, column]
            stayed = rows[row] == columns[column]
            axes.text(column, row, f"{count:,}\n{shares[row, column]:.0%}", ha="center", va="center", fontsize=9,
                      fontweight="bold" if stayed else "normal",
                      color="white" if shares[row, column] > 0.55 else "#1f2630")
    axes.set_xticks(range(len(columns)), columns, fontsize=9)
    axes.set_yticks(range(len(rows)), rows, fontsize=9)
    axes.xaxis.tick_top()
    axes.xaxis.set_label_position("top")
    axes.set_xlabel("segment now", fontsize=9, color="#39424e")
    axes.set_ylabel(f"segment on {previous_date}", fontsize=9, color="#39424e")
    for label in [*axes.get_xticklabels(), *axes.get_yticklabels()]:
        label.set_color(colour_of.get(label.get_text(), "#5b6573"))
        label.set_fontweight("bold" if label.get_text() in colour_of else "normal")
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    return _chart(
        "migrations.png", f"Movements since {previous_date}",
        f"Customers per segment on {previous_date} (rows) and now (columns); the percentage is of the row. "
        f"{NEW} customers were not segmented before; {NOT_SEGMENTED} ones are no longer.",
        figure,
    )


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #1f2630; --muted: #5b6573; --line: #e3e6ea; --card: #ffffff; --page: #f4f6f8; --accent: #2f5d9e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--page); color: var(--ink);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
             "DejaVu Sans", sans-serif; }
.report { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
.report header { margin-bottom: 20px; }
.report h1 { font-size: 26px; line-height: 1.2; margin: 0 0 4px; letter-spacing: -0.01em; }
.report h2 { font-size: 18px; margin: 0 0 12px; }
.subtitle { color: var(--muted); margin: 0; }
.subtitle code { font-size: 13px; background: #e9edf2; padding: 1px 6px; border-radius: 4px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(135px, 1fr)); gap: 12px; margin: 18px 0 8px; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.kpi .value { font-size: 22px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.kpi .detail { color: var(--muted); font-size: 12.5px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 20px 22px;
        margin: 18px 0; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
figure { margin: 0; }
figure img { display: block; width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 8px; }
.summary { list-style: none; padding: 0; margin: 0; display: grid; gap: 10px; }
.summary li { display: flex; gap: 12px; align-items: baseline; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; flex: none; transform: translateY(1px); }
.summary strong { white-space: nowrap; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; margin-top: 16px; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: right; }
th { color: var(--muted); font-weight: 600; font-size: 12.5px; }
th:first-child, td:first-child { text-align: left; }
.note { color: var(--muted); background: #f8f9fb; border: 1px dashed #cfd5dc; border-radius: 8px; padding: 12px 14px; margin: 0; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 24px; }
"""


def _render_html(run: dict, segments: list[dict], charts: list[Chart]) -> str:
    e = html.escape
    as_of = run["as_of_date"]
    by_file = {chart.file: chart for chart in charts}
    title = f"Customer segments as of {as_of.isoformat()}"
    published_at = run["published_at"].strftime("%Y-%m-%d %H:%M %Z").strip() if run["published_at"] else "unknown"
    silhouette = f"{run['silhouette']:.3f}" if run["silhouette"] is not None else "n/a"
    davies = f"Davies–Bouldin {run['davies_bouldin']:.2f}" if run["davies_bouldin"] is not None else ""
    changed = run["customers_changed_segment"]
    kpis = [
        ("Segments (k)", f"{run['k']}", "chosen automatically" if run["k_selection"] else "fixed k"),
        ("Silhouette", silhouette, davies),
        ("Customers segmented", f"{run['customers_segmented']:,}", f"{run['customers_excluded']:,} excluded"),
        ("Changed segment", f"{changed:,}" if changed is not None else "n/a",
         "since the last snapshot" if changed is not None else "first snapshot"),
        ("Lines used", f"{run['lines_used']:,}", f"of {run['lines_in_snapshot']:,} lines"),
        ("Lines excluded", f"{run['lines_excluded']:,}", "duplicates, guests, fees"),
        ("Lines quarantined", f"{run['lines_quarantined']:,}", "invalid values"),
    ]
    kpi_html = "\n".join(
        f'<div class="kpi"><div class="label">{e(label)}</div><div class="value">{e(value)}</div>'
        f'<div class="detail">{e(detail)}</div></div>'
        for label, value, detail in kpis
    )
    summary_html = "\n".join(
        f'<li><span class="swatch" style="background:{segment_colour(row["segment_id"])}"></span>'
        f'<span>{e(segment_sentence(row))}</span></li>'
        for row in segments
    )
    table_rows = "\n".join(
        "<tr>"
        f'<td><span class="swatch" style="background:{segment_colour(row["segment_id"])}"></span> '
        f'{e(row["segment_name"])}</td>'
        f"<td>{row['customers']:,}</td><td>{float(row['customer_share']):.1%}</td>"
        f"<td>{float(row['revenue']):,.0f}</td><td>{float(row['revenue_share'] or 0):.1%}</td>"
        f"<td>{float(row['median_recency_days']):,.0f}</td><td>{float(row['median_frequency_invoices']):,.0f}</td>"
        f"<td>{float(row['median_monetary_revenue']):,.0f}</td>"
        "</tr>"
        for row in segments
    )

    def figure(file: str) -> str:
        chart = by_file[file]
        encoded = base64.b64encode(chart.png).decode("ascii")
        return (
            f'<section class="card" id="{e(file.removesuffix(".png"))}"><h2>{e(chart.title)}</h2><figure>'
            f'<img src="data:image/png;base64,{encoded}" alt="{e(chart.title)}" '
            f'style="max-width:{round(chart.width_inches * 96)}px">'
            f"<figcaption>{e(chart.caption)}</figcaption></figure></section>"
        )

    if "migrations.png" in by_file:
        migrations_html = figure("migrations.png")
    else:
        migrations_html = (
            '<section class="card" id="migrations"><h2>Movements since the previous snapshot</h2>'
            '<p class="note">There is no previous published snapshot to compare with: this is the first one, '
            "so every customer is new.</p></section>"
        )
    k_selection_html = figure("k_selection.png") if "k_selection.png" in by_file else ""
    features = ", ".join(run["model_features"])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="segments-run-id" content="{e(run['run_id'])}">
<meta name="segments-as-of-date" content="{as_of.isoformat()}">
<title>{e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main class="report">
<header>
<h1>{e(title)}</h1>
<p class="subtitle">Run <code>{e(run['run_id'])}</code> · published {e(published_at)} ·
K-Means on {e(features)} · built only from invoice lines dated before {as_of.isoformat()}</p>
<div class="kpis">
{kpi_html}
</div>
</header>
<section class="card" id="summary">
<h2>In plain words</h2>
<ul class="summary">
{summary_html}
</ul>
<table>
<thead><tr><th>Segment</th><th>Customers</th><th>% customers</th><th>Revenue</th><th>% revenue</th>
<th>Median recency (days)</th><th>Median invoices</th><th>Median revenue</th></tr></thead>
<tbody>
{table_rows}
</tbody>
</table>
</section>
{figure("segment_sizes.png")}
{figure("profile_heatmap.png")}
{figure("projection.png")}
{migrations_html}
{k_selection_html}
<footer>Rebuilt from the warehouse (schema <code>segments</code>) for snapshot {as_of.isoformat()}.
Revenue is net of returns. Medians are per customer.</footer>
</main>
</body>
</html>
"""


def segment_sentence(row: dict) -> str:
    """One segment in plain words, from its published profile."""
    recency = round(float(row["median_recency_days"]))
    orders = round(float(row["median_frequency_invoices"]))
    money = float(row["median_monetary_revenue"])
    bought = "today" if recency == 0 else f"{recency:,} day{'s' if recency != 1 else ''} ago"
    return (
        f"{row['segment_name']}: {float(row['customer_share']):.0%} of customers bring "
        f"{float(row['revenue_share'] or 0):.0%} of revenue. Typically bought {bought}, "
        f"{orders:,} order{'s' if orders != 1 else ''}, {money:,.0f} in total."
    )
