"""The report's charts: matplotlib's object API on the Agg canvas (no pyplot, no global backend switch).

Each function draws one chart of a snapshot from what the report read in the warehouse and returns
it as PNG bytes with its title and caption. Segment colours come from one palette, the same in
every chart, in the page's swatches and in every snapshot. matplotlib and scikit-learn are
imported only when a chart is drawn.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segments.settings import ALL_FEATURES, Settings

# Every chart a report can hold, in page order; a rebuilt report removes the ones it no longer has.
CHART_FILES = ("segment_sizes.png", "profile_heatmap.png", "projection.png", "k_selection.png", "migrations.png")

# At most this many customers are drawn in the projection (a fixed-seed sample).
PROJECTION_SAMPLE = 5_000
# One colour per segment id (1 -> first), the same in every chart and every snapshot.
SEGMENT_PALETTE = ("#2f5d9e", "#e07b39", "#3c9a5f", "#c4453c", "#7d5ba6", "#8c6d46", "#d1609e", "#5f7a8a")
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


def segment_colour(segment_id: int) -> str:
    """The colour of a segment id in every chart and in the page's swatches."""
    return SEGMENT_PALETTE[(int(segment_id) - 1) % len(SEGMENT_PALETTE)]


@dataclass(frozen=True)
class Chart:
    file: str
    title: str
    caption: str
    png: bytes
    width_inches: float

    @property
    def section_id(self) -> str:
        """The chart's anchor in the page: its file name without .png."""
        return self.file.removesuffix(".png")

    @property
    def data_uri(self) -> str:
        """The PNG embedded in the page itself, so report.html needs no other file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


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


def segment_sizes(segments: list[dict]) -> Chart:
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


def profile_heatmap(segments: list[dict], zscores: pd.DataFrame, model_features: tuple[str, ...]) -> Chart:
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


def projection(customers: pd.DataFrame, model, segments: list[dict]) -> Chart:
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


def k_selection(curve: list[dict], chosen_k: int) -> Chart:
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


def migrations(migrations: pd.DataFrame, segments: list[dict]) -> Chart:
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
