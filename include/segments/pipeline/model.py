"""K-Means segmentation: transform, choose k, fit, name segments and keep their identity.

Learned state is explicit and plain data (`Scaler`, `SegmentModel`), so a stored model can be
re-applied exactly, in pandas or in SQL.
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segments.errors import InsufficientDataError
from segments.pipeline.definitions import LOW, SegmentDefinition, base_name, define, percentile_of
from segments.settings import K_MAX, K_MIN, Settings

# scikit-learn and SciPy are imported inside the functions that fit or measure a model: every
# other task (extract, the quality gate, publish) imports this module, and should not pay about a
# second per task for them.
if TYPE_CHECKING:
    from sklearn.cluster import KMeans

TOP_NAME = "VIP Premium"
MIDDLE_NAME = "Core Regular"
BOTTOM_NAME = "Entry-Level"
# Candidate-set size for choosing k: large enough to be stable, small enough to stay fast.
K_SELECTION_SAMPLE = 20_000
# Bootstrap stability: K-Means refitted on this many resamples of a sample of this size (bounded
# time, whatever the number of customers).
STABILITY_RESAMPLES = 5
STABILITY_SAMPLE = 5_000
# Silhouette: the distances from this many sampled customers at a time to the whole sample (128 x
# 5,000), a block small enough that the linear algebra library keeps it on one thread.
SILHOUETTE_BLOCK_ROWS = 128


@dataclass(frozen=True)
class Scaler:
    """log1p, clip to learned quantiles, standardise: per feature, in `features` order."""

    features: tuple[str, ...]
    clip_low: tuple[float, ...]
    clip_high: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        logged = np.log1p(np.clip(frame[list(self.features)].to_numpy(dtype=float), 0, None))
        return (np.clip(logged, self.clip_low, self.clip_high) - np.array(self.mean)) / np.array(self.scale)

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled points back in original units (a centroid as a readable customer)."""
        return np.expm1(scaled * np.array(self.scale) + np.array(self.mean))

    def to_dict(self) -> dict:
        return {name: list(getattr(self, name)) for name in ("features", "clip_low", "clip_high", "mean", "scale")}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        return cls(**{name: tuple(values) for name, values in data.items()})


def fit_scaler(frame: pd.DataFrame, features: tuple[str, ...], clip_quantile: float) -> Scaler:
    """Learn the transform; clipping keeps a handful of wholesale buyers from owning a centroid."""
    logged = np.log1p(np.clip(frame[list(features)].to_numpy(dtype=float), 0, None))
    low = np.quantile(logged, 1 - clip_quantile, axis=0)
    high = np.quantile(logged, clip_quantile, axis=0)
    clipped = np.clip(logged, low, high)
    scale = clipped.std(axis=0)
    scale[scale == 0] = 1.0
    return Scaler(features, tuple(low), tuple(high), tuple(clipped.mean(axis=0)), tuple(scale))


@dataclass(frozen=True)
class SegmentModel:
    """A fitted segmentation: scaler, centroids (scaled units) and each centroid's id and name."""

    scaler: Scaler
    centroids: np.ndarray
    segment_ids: tuple[int, ...]
    segment_names: tuple[str, ...]

    @property
    def k(self) -> int:
        return len(self.segment_ids)

    def nearest(self, scaled: np.ndarray) -> np.ndarray:
        """Position of each scaled row's nearest centroid."""
        # |x - c|^2 without the |x|^2 term, which is the same for every centroid: O(n * k) memory.
        distances = (self.centroids**2).sum(axis=1)[None, :] - 2 * scaled @ self.centroids.T
        return distances.argmin(axis=1)

    def assign(self, frame: pd.DataFrame) -> pd.Series:
        """Segment id of each customer: the nearest centroid in scaled space."""
        positions = self.nearest(self.scaler.transform(frame))
        return pd.Series(np.array(self.segment_ids)[positions], index=frame.index, name="segment_id")

    def centroids_original(self) -> np.ndarray:
        return self.scaler.inverse(self.centroids)


@dataclass(frozen=True)
class PreviousSnapshot:
    """What the previous published snapshot says: its date and model. (How many customers
    changed segment since is counted in the warehouse: registry.migration.)"""

    as_of_date: dt.date
    model: SegmentModel
    # Of the last fresh multi-start fit behind its model (None from a model stored without it).
    fresh_fit_inertia_per_customer: float | None = None


@dataclass(frozen=True)
class SnapshotTotals:
    """What a snapshot publishes, in two numbers: segmented customers and their net revenue."""

    customers: int
    revenue: float


@dataclass
class FitResult:
    model: SegmentModel
    assignments: pd.Series
    metrics: dict
    k_selection: list[dict] = field(default_factory=list)
    training_customers: int = 0
    definitions: tuple[SegmentDefinition, ...] = ()


# A warm start from yesterday's centroids is kept unless a fresh fit is this much tighter:
# segments should move only when the data really moved.
WARM_START_TOLERANCE = 0.01
FROM_PREVIOUS_CENTROIDS = "previous centroids"
FROM_KMEANS_PLUS_PLUS = "k-means++"


@dataclass(frozen=True)
class KMeansFit:
    """The chosen K-Means, where it started, and the inertia per customer of the last fresh fit
    (multi-start from k-means++ seeds), which the next snapshot's warm start is held to."""

    kmeans: KMeans
    initialised_from: str
    fresh_fit_inertia_per_customer: float


def _kmeans(k: int, seed: int) -> KMeans:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed)


def fit_kmeans(
    training: np.ndarray, k: int, scaler: Scaler, previous: SegmentModel | None, seed: int,
    fresh_fit_inertia_per_customer: float | None = None,
) -> KMeansFit:
    """K-Means from the previous snapshot's centroids, or from k-means++ seeds when those fit clearly tighter.

    The fresh multi-start fit (ten K-Means runs) runs only when the warm start is looser
    than the last fresh fit was (`fresh_fit_inertia_per_customer`, known from the predecessor) or
    that is unknown. Scaled features are standardised, so inertia per customer compares across
    days; held to the last fresh fit, not yesterday's, small daily drifts cannot add up unchecked.
    """
    if previous is None or previous.k != k or previous.scaler.features != scaler.features:
        fresh = _kmeans(k, seed).fit(training)
        return KMeansFit(fresh, FROM_KMEANS_PLUS_PLUS, fresh.inertia_ / len(training))
    from sklearn.cluster import KMeans

    previous_points = pd.DataFrame(previous.centroids_original(), columns=list(scaler.features))
    warm = KMeans(n_clusters=k, init=scaler.transform(previous_points), n_init=1, random_state=seed).fit(training)
    tolerance = 1 + WARM_START_TOLERANCE
    if (fresh_fit_inertia_per_customer is not None
            and warm.inertia_ / len(training) <= fresh_fit_inertia_per_customer * tolerance):
        return KMeansFit(warm, FROM_PREVIOUS_CENTROIDS, fresh_fit_inertia_per_customer)
    fresh = _kmeans(k, seed).fit(training)
    if warm.inertia_ <= fresh.inertia_ * tolerance:
        return KMeansFit(warm, FROM_PREVIOUS_CENTROIDS, fresh.inertia_ / len(training))
    return KMeansFit(fresh, FROM_KMEANS_PLUS_PLUS, fresh.inertia_ / len(training))


def sample_rows(scaled: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(scaled) <= size:
        return scaled
    return scaled[np.random.default_rng(seed).choice(len(scaled), size=size, replace=False)]


def silhouette(points: np.ndarray, labels: np.ndarray, sample_size: int, seed: int) -> float:
    """The mean silhouette coefficient of `labels` over a seeded sample of at most `sample_size`
    points: scikit-learn's `silhouette_score(points, labels, sample_size=..., random_state=seed)`,
    the same sample and the same value (a property test holds them equal), in about a third of its
    time and without its swings (0.06-0.10 s against 0.17-0.78 s for a 5,000-customer sample in a
    fresh process: its 5,000 x 5,000 distance matrix ran the linear algebra library on every core,
    whose threads then waited on each other). Each point's distances to the
    sample are summed per label in blocks of SILHOUETTE_BLOCK_ROWS, on one thread. A point alone in
    its label scores 0, as there.
    """
    from threadpoolctl import threadpool_limits

    if len(labels) > sample_size:
        drawn = np.random.RandomState(seed).permutation(len(labels))[:sample_size]
        points, labels = points[drawn], labels[drawn]
    _, codes = np.unique(labels, return_inverse=True)
    members = np.eye(codes.max() + 1)[codes]
    sizes = members.sum(axis=0)
    squared_norms = np.einsum("ij,ij->i", points, points)
    distance_sums = np.empty(members.shape)
    block_distances = np.empty((min(SILHOUETTE_BLOCK_ROWS, len(points)), len(points)))
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, len(points), SILHOUETTE_BLOCK_ROWS):
            block = points[start:start + SILHOUETTE_BLOCK_ROWS]
            distances = block_distances[:len(block)]
            # |x - y|^2 = |x|^2 - 2 x.y + |y|^2, as scikit-learn computes it; a point's distance to
            # itself is exactly zero.
            np.matmul(block, points.T, out=distances)
            distances *= -2
            distances += squared_norms[start:start + len(block), None]
            distances += squared_norms[None, :]
            np.maximum(distances, 0, out=distances)
            np.sqrt(distances, out=distances)
            rows = np.arange(len(block))
            distances[rows, rows + start] = 0
            np.matmul(distances, members, out=distance_sums[start:start + len(block)])
    rows = np.arange(len(points))
    with np.errstate(divide="ignore", invalid="ignore"):
        within = distance_sums[rows, codes] / (sizes[codes] - 1)
        between = distance_sums / sizes
        between[rows, codes] = np.inf
        nearest = between.min(axis=1)
        scores = (nearest - within) / np.maximum(within, nearest)
    return float(np.mean(np.nan_to_num(scores)))


def choose_k(scaled: np.ndarray, settings: Settings) -> tuple[int, list[dict]]:
    """Best silhouette among k from K_MIN to K_MAX, never accepting a segment below the minimum share."""
    candidates = sample_rows(scaled, K_SELECTION_SAMPLE, settings.random_seed)
    curve = []
    for k in range(K_MIN, K_MAX + 1):
        labels = _kmeans(k, settings.random_seed).fit_predict(candidates)
        smallest_share = np.bincount(labels, minlength=k).min() / len(labels)
        curve.append({
            "k": k,
            "silhouette": silhouette(candidates, labels, settings.silhouette_sample_size, settings.random_seed),
            "smallest_share": float(smallest_share),
            "eligible": bool(smallest_share >= settings.min_segment_share),
        })
    eligible = [point for point in curve if point["eligible"]] or curve
    return max(eligible, key=lambda point: point["silhouette"])["k"], curve


def value_ranking(frame: pd.DataFrame, labels: np.ndarray) -> list[int]:
    """Cluster indices from most to least valuable: spend, frequency and recency of their medians."""
    scores = []
    for cluster in np.unique(labels):
        members = frame[labels == cluster]
        score = (
            percentile_of(frame["monetary_revenue"], members["monetary_revenue"].median())
            + percentile_of(frame["frequency_invoices"], members["frequency_invoices"].median())
            + 1 - percentile_of(frame["recency_days"], members["recency_days"].median())
        )
        scores.append((-score, -members["monetary_revenue"].mean(), int(cluster)))
    return [cluster for _, _, cluster in sorted(scores)]


@dataclass(frozen=True)
class Behaviour:
    """Where a cluster's median customer stands among all customers (percentiles, 0 to 1)."""

    recency: float
    frequency: float
    tenure: float

    @classmethod
    def of(cls, frame: pd.DataFrame, members: pd.DataFrame) -> Behaviour:
        return cls(*(percentile_of(frame[column], members[column].median())
                     for column in ("recency_days", "frequency_invoices", "tenure_days")))

    @property
    def lapsing(self) -> bool:
        return self.recency >= LAPSING_RECENCY_PERCENTILE


# A segment whose median customer's last purchase is older than this share of all customers'
# has mostly stopped buying.
LAPSING_RECENCY_PERCENTILE = 0.6


def _behaviour_name(behaviour: Behaviour) -> str:
    if behaviour.frequency <= LOW:
        return BOTTOM_NAME  # one-time or minimal buyers, whenever they came
    if behaviour.lapsing:
        return "At-Risk Loyal" if behaviour.frequency >= 0.5 else "Lapsing Occasional"
    if behaviour.tenure <= 0.3:
        return "New Promising"
    if behaviour.frequency >= 0.6:
        return "Loyal Regular"
    return MIDDLE_NAME


def name_segments(frame: pd.DataFrame, labels: np.ndarray) -> dict[int, str]:
    """Deterministic names from value and behaviour.

    With k up to 3, the original analysis' names by value: VIP Premium, Core Regular, Entry-Level.
    Above 3, a segment is named by what its customers do: the most valuable segment still buying
    is VIP Premium; the least valuable is Entry-Level when its customers buy rarely, and so is any
    segment of one-time buyers; every other segment is named by its behaviour, so that lapsed
    former high spenders are "At-Risk Loyal" wherever they sit in the value ranking, never
    "Core Regular" or "VIP Premium".
    """
    ranked = value_ranking(frame, labels)
    if len(ranked) <= 3:
        names = {ranked[0]: TOP_NAME, ranked[-1]: BOTTOM_NAME}
        names.update({cluster: MIDDLE_NAME for cluster in ranked[1:-1]})
        return names
    behaviour = {cluster: Behaviour.of(frame, frame[labels == cluster]) for cluster in ranked}
    names = {}
    top = next((cluster for cluster in ranked if not behaviour[cluster].lapsing), ranked[0])
    names[top] = TOP_NAME
    if ranked[-1] != top and behaviour[ranked[-1]].frequency < 0.5:
        names[ranked[-1]] = BOTTOM_NAME
    for cluster in ranked:
        if cluster in names:
            continue
        name = _behaviour_name(behaviour[cluster])
        taken = sum(1 for existing in names.values() if base_name(existing) == name)
        names[cluster] = name if taken == 0 else f"{name} ({taken + 1})"
    return names


def match_ids(model_centroids: np.ndarray, scaler: Scaler, ranked: list[int], previous: SegmentModel | None) -> dict[int, int]:
    """Segment id per cluster: the previous snapshot's id of the nearest previous centroid.

    An optimal one-to-one assignment on centroid distance (both expressed with the new scaler);
    clusters left over get fresh ids in value order. Without a comparable previous model, ids
    follow value order from 1.
    """
    from scipy.optimize import linear_sum_assignment

    if previous is None or previous.scaler.features != scaler.features:
        return {cluster: position + 1 for position, cluster in enumerate(ranked)}
    previous_points = pd.DataFrame(previous.centroids_original(), columns=list(scaler.features))
    previous_scaled = scaler.transform(previous_points)
    cost = ((model_centroids[:, None, :] - previous_scaled[None, :, :]) ** 2).sum(axis=2)
    rows, columns = linear_sum_assignment(cost)
    ids = {int(row): previous.segment_ids[column] for row, column in zip(rows, columns)}
    next_id = max(previous.segment_ids) + 1
    for cluster in ranked:
        if cluster not in ids:
            ids[cluster] = next_id
            next_id += 1
    return ids


def fit(frame: pd.DataFrame, settings: Settings, k: int | str, previous: PreviousSnapshot | None) -> FitResult:
    """Fit the segmentation of one snapshot's customers and measure it."""
    features = settings.model_features
    if len(frame) < 10 * (8 if k == "auto" else int(k)):
        raise InsufficientDataError(
            f"Only {len(frame)} customers have a net purchase: too few to segment into k={k}. "
            "Load more history or choose a later date."
        )
    scaler = fit_scaler(frame, features, settings.clip_quantile)
    scaled = scaler.transform(frame)
    k_selection: list[dict] = []
    if k == "auto":
        k, k_selection = choose_k(scaled, settings)
    training = sample_rows(scaled, settings.max_training_customers, settings.random_seed)
    fitted = fit_kmeans(training, int(k), scaler, previous.model if previous else None, settings.random_seed,
                        previous.fresh_fit_inertia_per_customer if previous else None)
    kmeans = fitted.kmeans
    labels = kmeans.predict(scaled)
    ranked = value_ranking(frame, labels)
    names = name_segments(frame, labels)
    ids = match_ids(kmeans.cluster_centers_, scaler, ranked, previous.model if previous else None)
    order = sorted(range(int(k)), key=lambda cluster: ids[cluster])
    model = SegmentModel(
        scaler=scaler,
        centroids=kmeans.cluster_centers_[order],
        segment_ids=tuple(ids[cluster] for cluster in order),
        segment_names=tuple(names[cluster] for cluster in order),
    )
    assignments = model.assign(frame)
    metrics = measure(scaled, assignments, model, settings)
    metrics.update(initialised_from=fitted.initialised_from,
                   fresh_fit_inertia_per_customer=fitted.fresh_fit_inertia_per_customer)
    definitions = define(frame, assignments, dict(zip(model.segment_ids, model.segment_names)),
                         [ids[cluster] for cluster in ranked], settings.currency)
    return FitResult(model, assignments, metrics, k_selection, len(training), definitions)


def bootstrap_stability(scaled: np.ndarray, model: SegmentModel, seed: int) -> float:
    """How little the segments depend on which customers happened to be there (0 to 1).

    The mean adjusted Rand index, on a fixed sample of customers, between the model's segments and
    those of K-Means refitted on bootstrap resamples of that sample: 1 when every resample finds
    the same segments, near 0 when the segments are an accident of the data.
    """
    from sklearn.cluster import KMeans

    def refit(drawn: np.ndarray, resample_seed: int):
        return KMeans(n_clusters=model.k, n_init=3, random_state=resample_seed).fit(drawn).predict

    return resample_agreement(scaled, model.nearest, refit, seed)


def resample_agreement(
    scaled: np.ndarray,
    reference: Callable[[np.ndarray], np.ndarray],
    refit: Callable[[np.ndarray, int], Callable[[np.ndarray], np.ndarray]],
    seed: int,
) -> float:
    """Mean ARI between `reference` labels and those of `refit` (any clustering method) on
    STABILITY_RESAMPLES bootstrap resamples of a sample of at most STABILITY_SAMPLE rows."""
    from sklearn.metrics import adjusted_rand_score

    evaluation = sample_rows(scaled, STABILITY_SAMPLE, seed)
    expected = reference(evaluation)
    rng = np.random.default_rng(seed)
    scores = []
    for resample in range(STABILITY_RESAMPLES):
        drawn = evaluation[rng.integers(0, len(evaluation), len(evaluation))]
        scores.append(adjusted_rand_score(expected, refit(drawn, seed + resample)(evaluation)))
    return float(np.mean(scores))


def measure(scaled: np.ndarray, assignments: pd.Series, model: SegmentModel, settings: Settings) -> dict:
    """Quality metrics of an assignment, on the scaled features."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    labels = assignments.to_numpy()
    position = {segment_id: index for index, segment_id in enumerate(model.segment_ids)}
    own_centroids = model.centroids[[position[segment_id] for segment_id in labels]]
    return {
        "inertia": float(((scaled - own_centroids) ** 2).sum()),
        "silhouette": silhouette(scaled, labels, settings.silhouette_sample_size, settings.random_seed),
        "davies_bouldin": float(davies_bouldin_score(scaled, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(scaled, labels)),
        "bootstrap_stability": bootstrap_stability(scaled, model, settings.random_seed),
        **size_metrics(assignments.value_counts().to_dict(), model),
    }


def migration_metrics(customers_in_both_snapshots: int, customers_changed_segment: int) -> dict:
    """The migration figures the quality gate reads."""
    return {
        "customers_in_both_snapshots": customers_in_both_snapshots,
        "customers_changed_segment": customers_changed_segment,
        "changed_segment_share": (
            customers_changed_segment / customers_in_both_snapshots if customers_in_both_snapshots else 0.0
        ),
    }


def size_metrics(sizes: dict[int, int], model: SegmentModel) -> dict:
    """Segment sizes by name and the smallest segment's share, from customers per segment id."""
    total = sum(sizes.values())
    return {
        "segment_sizes": {name: int(sizes.get(segment_id, 0)) for segment_id, name in
                          zip(model.segment_ids, model.segment_names)},
        "smallest_segment_share": min(sizes.get(segment_id, 0) for segment_id in model.segment_ids) / total,
    }


def quality_failures(
    metrics: dict,
    settings: Settings,
    totals: SnapshotTotals,
    predecessor: SnapshotTotals | None = None,
    published: SnapshotTotals | None = None,
    force: bool = False,
) -> list[str]:
    """Reasons this snapshot must not be published; empty when it passes the gate.

    Besides the model's own quality: against its predecessor, customers or revenue must not jump
    by `max_jump_factor` in either direction (a unit error, a price typo, a half-loaded source);
    against the snapshot already published for the same date, a rerun must not drop more than
    `max_republish_shrink_share` of its customers unless `force` says it is intended.
    """
    failures = []
    if predecessor is not None:
        for measure, unit in (("customers", "customers"), ("revenue", "of revenue")):
            before, after = getattr(predecessor, measure), getattr(totals, measure)
            if before > 0 and after > 0 and max(after / before, before / after) >= settings.max_jump_factor:
                failures.append(
                    f"{measure} would go from {before:,.0f} to {after:,.0f} {unit} in one step from the predecessor "
                    f"(a factor of {max(after / before, before / after):,.1f}, limit {settings.max_jump_factor:g}): "
                    "check the source for unit, price or loading errors"
                )
    if published is not None and not force:
        shrink = 1 - totals.customers / published.customers if published.customers else 0.0
        if shrink > settings.max_republish_shrink_share:
            failures.append(
                f"republishing would shrink this date's snapshot from {published.customers:,} to {totals.customers:,} "
                f"customers ({shrink:.1%}, limit {settings.max_republish_shrink_share:.0%}); if that is intended "
                "(the source really lost history), rerun with force=true (`segments run --force`)"
            )
    if metrics["smallest_segment_share"] < settings.min_segment_share:
        failures.append(
            f"smallest segment holds {metrics['smallest_segment_share']:.1%} of customers, "
            f"below the minimum {settings.min_segment_share:.1%}"
        )
    if metrics["silhouette"] < settings.min_silhouette:
        failures.append(f"silhouette {metrics['silhouette']:.3f} is below the floor {settings.min_silhouette:.3f}")
    if metrics.get("changed_segment_share", 0.0) > settings.max_migration_share:
        failures.append(
            f"{metrics['changed_segment_share']:.1%} of customers would change segment at once, "
            f"above the limit {settings.max_migration_share:.1%}"
        )
    return failures


def library_versions() -> dict[str, str]:
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "pandas": pd.__version__}
