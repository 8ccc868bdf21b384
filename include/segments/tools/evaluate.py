"""`segments evaluate`: which model configuration finds the right segments, with the evidence.

Two benches feed one table:

- **planted**: synthetic shops whose customers are drawn from known archetypes
  (`generate.ARCHETYPES`), in several mixes and seeds. A candidate is scored by the adjusted Rand
  index (ARI) of its segments against the planted truth, and by the share of customers given a
  name their archetype expects ("wholesale VIPs" are "VIP Premium", lapsed regulars "At-Risk
  Loyal", ...), with k set to the number of archetypes, or chosen by the candidate (auto);
- **real**: the UCI Online Retail data as of 2011-12-01 to 2011-12-10 (k=3, or auto): bootstrap
  stability and silhouette on the last date, day-to-day keep over the ten nights, and whether
  k=3 yields the original analysis' three segments (`seed_segments`).

Both run the pipeline's own stages (extract, aggregates, features) in scratch databases of the
local server, so candidates see exactly the features production computes. `choose_default`
applies the rule for changing the default: see its docstring.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from tabulate import tabulate

from segments import db, queries
from segments.files import write_atomically
from segments.pipeline import features as featuring
from segments.pipeline import model, snapshot
from segments.pipeline.definitions import base_name
from segments.settings import ALL_FEATURES, BASKET_FEATURES, K_MAX, K_MIN, LOCAL_DIR, RFM_FEATURES, Settings
from segments.tools import generate, load, runner, server
from segments.tools.bench.agreement import matched_share

PLANTED_LINES = 400_000
PLANTED_CUSTOMERS = 4_000
PLANTED_START, PLANTED_END = dt.date(2011, 1, 1), dt.date(2012, 1, 1)
PLANTED_MIXES = tuple(generate.ARCHETYPE_MIXES)
PLANTED_SEEDS = (1, 2, 3)
REAL_DATES = tuple(dt.date(2011, 12, day) for day in range(1, 11))
REAL_K = 3
SEED_NAMES = {model.TOP_NAME, model.MIDDLE_NAME, model.BOTTOM_NAME}

# The rule for replacing the default: a clear gain on the planted truth, and nothing lost on the
# real data (stability within its resampling noise, every night's keep at the product's floor).
MIN_PLANTED_ARI_GAIN = 0.03
STABILITY_NOISE = 0.02
MIN_NIGHTLY_KEEP = 0.95
TIE_ARI = 0.01

FEATURE_SETS = {
    "RFM": RFM_FEATURES,
    "RFM+tenure": (*RFM_FEATURES, "tenure_days"),
    "RFM+basket": (*RFM_FEATURES, *BASKET_FEATURES),
    "all eight": ALL_FEATURES,
}
SCALINGS = ("log, clipped", "log")
ALGORITHMS = ("k-means", "gaussian mixture")
K_MODES = ("fixed", "auto")
OUTPUT = LOCAL_DIR / "evaluate" / "evaluation.json"

# Each call's scratch databases carry its process id, so that two calls at once never drop or
# fill each other's; a call that was killed leaves its pair behind, for the next call to drop.
SCRATCH_DATABASE_PREFIX = "segments_evaluate_"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One model configuration: which features, how scaled, which algorithm, k given or chosen."""

    features: str
    scaling: str
    algorithm: str
    k_mode: str

    @property
    def label(self) -> str:
        return f"{self.algorithm}, {self.features}, {self.scaling}, k {self.k_mode}"

    @property
    def scorable_in_sql(self) -> bool:
        """Nearest centroid after log, clip and standardise: what the SQL scoring path computes."""
        return self.algorithm == "k-means"

    def settings(self, base: Settings) -> Settings:
        clip = base.clip_quantile if self.scaling == "log, clipped" else 1.0
        return dataclasses.replace(base, model_features=FEATURE_SETS[self.features], clip_quantile=clip)


def default_candidate(settings: Settings) -> Candidate:
    """The configuration the pipeline runs today."""
    features = next((name for name, columns in FEATURE_SETS.items() if columns == settings.model_features), None)
    if features is None:
        raise ValueError(f"SEGMENTS_MODEL_FEATURES {settings.model_features} is none of the evaluated feature sets")
    return Candidate(features, "log, clipped" if settings.clip_quantile < 1 else "log", "k-means",
                     "auto" if settings.k == "auto" else "fixed")


def all_candidates() -> list[Candidate]:
    return [Candidate(f, s, a, k) for a in ALGORITHMS for f in FEATURE_SETS for s in SCALINGS for k in K_MODES]


@dataclasses.dataclass
class Fitted:
    """A candidate fitted to one snapshot's customers."""

    labels: np.ndarray
    names: dict[int, str]
    scaled: np.ndarray
    predict: Callable[[np.ndarray], np.ndarray]
    previous: model.SegmentModel | None  # what the next night's K-Means starts from


def _gaussian_mixture(k: int, seed: int):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(n_components=k, covariance_type="full", n_init=3, random_state=seed)


def _mixture_k(scaled: np.ndarray, seed: int) -> int:
    """k by the Bayesian information criterion, the usual choice for a mixture."""
    sample = model.sample_rows(scaled, model.K_SELECTION_SAMPLE, seed)
    return min(range(K_MIN, K_MAX + 1), key=lambda k: _gaussian_mixture(k, seed).fit(sample).bic(sample))


def fit_candidate(
    frame: pd.DataFrame, candidate: Candidate, k: int | None, settings: Settings,
    previous: model.SegmentModel | None = None,
) -> Fitted:
    """Fit `candidate` with `k` segments (None: the candidate chooses), named as the pipeline names."""
    settings = candidate.settings(settings)
    scaler = model.fit_scaler(frame, settings.model_features, settings.clip_quantile)
    scaled = scaler.transform(frame)
    training = model.sample_rows(scaled, settings.max_training_customers, settings.random_seed)
    if candidate.algorithm == "k-means":
        k = k or model.choose_k(scaled, settings)[0]
        kmeans = model.fit_kmeans(training, k, scaler, previous, settings.random_seed).kmeans
        predict = kmeans.predict
        labels = predict(scaled)
        names = model.name_segments(frame, labels)
        fitted_model = model.SegmentModel(scaler, kmeans.cluster_centers_, tuple(range(k)),
                                          tuple(names[cluster] for cluster in range(k)))
    else:
        k = k or _mixture_k(scaled, settings.random_seed)
        predict = _gaussian_mixture(k, settings.random_seed).fit(training).predict
        labels = predict(scaled)
        names = model.name_segments(frame, labels)
        fitted_model = None
    return Fitted(labels, names, scaled, predict, fitted_model)


def _refit(candidate: Candidate, k: int) -> Callable[[np.ndarray, int], Callable[[np.ndarray], np.ndarray]]:
    def refit(drawn: np.ndarray, seed: int) -> Callable[[np.ndarray], np.ndarray]:
        if candidate.algorithm == "k-means":
            from sklearn.cluster import KMeans

            return KMeans(n_clusters=k, n_init=3, random_state=seed).fit(drawn).predict
        return _gaussian_mixture(k, seed).fit(drawn).predict

    return refit


# --- the planted bench --------------------------------------------------------------------------

def planted_scores(frame: pd.DataFrame, truth: pd.Series, candidate: Candidate, settings: Settings) -> dict:
    """ARI against the truth and the share of customers named as their archetype expects."""
    from sklearn.metrics import adjusted_rand_score

    archetypes = truth.loc[frame.index]
    fitted = fit_candidate(frame, candidate, None if candidate.k_mode == "auto" else archetypes.nunique(), settings)
    names = pd.Series([base_name(fitted.names[label]) for label in fitted.labels], index=frame.index)
    expected = archetypes.map(lambda archetype: generate.ARCHETYPES[archetype].expected_names)
    well_named = pd.Series([name in allowed for name, allowed in zip(names, expected)], index=frame.index)
    return {
        "ari": float(adjusted_rand_score(archetypes, fitted.labels)),
        "named_as_expected": float(well_named.mean()),
        "named_as_expected_by_archetype": {a: float(v) for a, v in well_named.groupby(archetypes).mean().items()},
        "names_by_archetype": {
            archetype: names[archetypes == archetype].value_counts(normalize=True).round(3).to_dict()
            for archetype in sorted(archetypes.unique())
        },
        "k": int(len(fitted.names)),
    }


def supervised_ceiling(frame: pd.DataFrame, truth: pd.Series, seed: int) -> float:
    """ARI of a classifier trained on the truth (5-fold, out of fold) from all eight features: how
    far the planted archetypes can be told apart at all, an upper reference for any clustering."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import adjusted_rand_score
    from sklearn.model_selection import cross_val_predict

    archetypes = truth.loc[frame.index]
    predicted = cross_val_predict(HistGradientBoostingClassifier(random_state=seed),
                                  frame[list(ALL_FEATURES)].astype(float), archetypes, cv=5)
    return float(adjusted_rand_score(archetypes, predicted))


# --- the real-data bench ------------------------------------------------------------------------

def real_scores(frames: dict[dt.date, pd.DataFrame], candidate: Candidate, settings: Settings) -> dict:
    """Night-to-night keep over the dates, and stability, silhouette and names on the last one."""
    k = None if candidate.k_mode == "auto" else REAL_K
    fitted, before, keeps = None, None, {}
    for date in sorted(frames):
        frame = frames[date]
        fitted = fit_candidate(frame, candidate, k, settings, fitted.previous if fitted else None)
        after = pd.Series(fitted.labels, index=frame.index)
        if before is not None:
            both = before.index.intersection(after.index)
            keeps[date.isoformat()] = matched_share(before.loc[both].to_numpy(), after.loc[both].to_numpy())
        before = after
    last = frames[max(frames)]
    chosen_k = len(fitted.names)
    seed = settings.random_seed
    three = fitted if chosen_k == REAL_K else fit_candidate(last, candidate, REAL_K, settings)
    return {
        "k": chosen_k,
        "bootstrap_stability": model.resample_agreement(fitted.scaled, fitted.predict, _refit(candidate, chosen_k), seed),
        "silhouette": model.silhouette(fitted.scaled, fitted.labels, settings.silhouette_sample_size, seed),
        "nightly_keep": keeps,
        "min_nightly_keep": min(keeps.values()) if keeps else None,
        **seed_segments(last, three),
    }


def seed_segments(frame: pd.DataFrame, fitted: Fitted) -> dict:
    """Whether three segments are the original analysis' own: VIP Premium (high-value, frequent),
    Core Regular (moderate, balanced), Entry-Level (one-time or minimal). The names alone are not
    enough, since names follow the value ranking whatever the segments are: their customers'
    mean revenue and mean number of invoices must both fall in that order."""
    names = pd.Series([fitted.names[label] for label in fitted.labels], index=frame.index)
    profile = frame[["monetary_revenue", "frequency_invoices"]].astype(float).groupby(names).mean()
    profile["customers"] = names.value_counts()
    order = [model.TOP_NAME, model.MIDDLE_NAME, model.BOTTOM_NAME]
    ordered = set(names) == SEED_NAMES and all(
        profile[column].loc[order].is_monotonic_decreasing and profile[column].loc[order].is_unique
        for column in ("monetary_revenue", "frequency_invoices"))
    return {"profile_at_k3": profile.round(1).to_dict(orient="index"), "seed_segments_at_k3": bool(ordered)}


# --- the table and the rule ---------------------------------------------------------------------

def summarise(candidate: Candidate, planted: list[dict], real: dict | None) -> dict:
    aris = [score["ari"] for score in planted]
    named = [score["named_as_expected"] for score in planted]
    return {
        "candidate": candidate.label, **dataclasses.asdict(candidate),
        "scorable_in_sql": candidate.scorable_in_sql,
        "planted_ari_mean": float(np.mean(aris)) if aris else None,
        "planted_ari_sd": float(np.std(aris)) if aris else None,
        "planted_named_as_expected": float(np.mean(named)) if named else None,
        "planted": planted,
        "real": real,
    }


def choose_default(rows: list[dict], current: Candidate) -> tuple[dict, str]:
    """The row to run by default, and why.

    The current default stays unless a candidate (1) is re-scorable in SQL as today (a nearest
    centroid), (2) beats it on the planted ARI, averaged over seeds and mixes, by at least
    MIN_PLANTED_ARI_GAIN, and (3) is no worse on the real data: bootstrap stability within
    STABILITY_NOISE of the default's, every night's keep at least MIN_NIGHTLY_KEEP, and k=3 still
    giving the original analysis' three segments (`seed_segments`). Among those, the best planted
    ARI wins; within TIE_ARI of it, the one that changes the fewest settings.
    """
    baseline = next(row for row in rows if row["candidate"] == current.label)

    def no_worse_on_real(row: dict) -> bool:
        real, base = row["real"], baseline["real"]
        if real is None or base is None:
            return False
        return (real["bootstrap_stability"] >= base["bootstrap_stability"] - STABILITY_NOISE
                and (real["min_nightly_keep"] or 0) >= MIN_NIGHTLY_KEEP and real["seed_segments_at_k3"])

    better = [row for row in rows if row["scorable_in_sql"] and no_worse_on_real(row)
              and row["planted_ari_mean"] >= baseline["planted_ari_mean"] + MIN_PLANTED_ARI_GAIN]
    if not better:
        return baseline, (
            f"no candidate re-scorable in SQL beats the default's planted ARI ({baseline['planted_ari_mean']:.3f}) by "
            f"{MIN_PLANTED_ARI_GAIN} without losing stability, nightly keep or the seed's three segments on the real data: "
            "the default stays")
    # Gains within TIE_ARI of the best are the same evidence: the fewest changes to the default win.
    top = max(row["planted_ari_mean"] for row in better)
    best = min((row for row in better if row["planted_ari_mean"] >= top - TIE_ARI),
               key=lambda row: (_changes(row, current), -row["planted_ari_mean"]))
    return best, (f"planted ARI {best['planted_ari_mean']:.3f} against the default's "
                  f"{baseline['planted_ari_mean']:.3f}, and no worse on the real data")


def _changes(row: dict, current: Candidate) -> int:
    return sum(row[name] != getattr(current, name) for name in ("features", "scaling", "algorithm", "k_mode"))


def render(rows: list[dict], chosen: dict, reason: str, ceiling: float | None = None) -> str:
    def number(value: float | None, digits: int = 3) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    table = []
    for row in rows:
        real = row["real"] or {}
        table.append([
            ("→ " if row is chosen else "") + row["candidate"],
            f"{number(row['planted_ari_mean'])} ± {number(row['planted_ari_sd'])}",
            number(row["planted_named_as_expected"], 2),
            number(real.get("bootstrap_stability")),
            number(real.get("min_nightly_keep")),
            number(real.get("silhouette")),
            real.get("k", "—"),
            {True: "yes", False: "no"}.get(real.get("seed_segments_at_k3"), "—"),
            "yes" if row["scorable_in_sql"] else "no",
        ])
    headers = ["candidate", "planted ARI (mean ± sd)", "planted named as expected", "real stability",
               "real min nightly keep", "real silhouette", "real k", "k=3 seed segments", "SQL scoring"]
    reference = "" if ceiling is None else (
        f"\nFor reference, a classifier trained on the planted truth from all eight features reaches an ARI of "
        f"{ceiling:.3f}: what the features allow at best.")
    return (tabulate(table, headers=headers, disable_numparse=True) + reference
            + f"\n\nDefault: {chosen['candidate']} ({reason}).")


# --- data ---------------------------------------------------------------------------------------

def _features_as_of(source, warehouse, as_of: dt.date, settings: Settings) -> pd.DataFrame:
    """The pipeline's own features of `as_of`: its stages through features, nothing published."""
    moment = dt.datetime.combine(as_of, dt.time(2), dt.timezone.utc)
    run = snapshot.resolve(moment, moment, f"evaluate__{as_of}", {}, settings)
    runner.run_stages(source, warehouse, run, settings, through="features")
    return featuring.load_features(warehouse, run.run_id)


@contextmanager
def _scratch_databases() -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """A fresh source and warehouse of this process on the local server, dropped afterwards."""
    _drop_abandoned_scratch_databases()
    names = [f"{SCRATCH_DATABASE_PREFIX}{os.getpid()}_{role}" for role in ("source", "warehouse")]
    try:
        for name in names:
            server.drop_database(name)
            server.create_database(name)
        with db.connect_url(server.url(names[0])) as source, db.connect_url(server.url(names[1])) as warehouse:
            yield source, warehouse
    finally:
        for name in names:
            server.drop_database(name)


def _drop_abandoned_scratch_databases() -> None:
    """Drop the scratch databases of calls whose process no longer runs (and the shared pair,
    without a process id, of versions before)."""
    for name in server.databases_starting_with(SCRATCH_DATABASE_PREFIX):
        pid = name.removeprefix(SCRATCH_DATABASE_PREFIX).split("_")[0]
        if not (pid.isdigit() and _process_runs(int(pid))):
            server.drop_database(name)


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def planted_data(mix: str, seed: int, settings: Settings, lines: int, customers: int) -> tuple[pd.DataFrame, pd.Series]:
    """Features and truth of one planted shop, as the pipeline sees it at the day after its range."""
    chunks = generate.generate_copy_chunks(lines, customers, PLANTED_START, PLANTED_END, seed=seed, mix=mix)
    with _scratch_databases() as (source, warehouse):
        load.copy_into_source(source, chunks, replace=True,
                              planted=generate.planted_archetypes(customers, seed, mix))
        frame = _features_as_of(source, warehouse, PLANTED_END, settings)
        truth = queries.fetch_frame(source, "source/select_customer_archetypes.sql")
    return frame, truth.set_index("customer_id")["archetype"]


def real_data(path: Path, settings: Settings) -> dict[dt.date, pd.DataFrame]:
    """The pipeline's features of the real data on each night of REAL_DATES."""
    with _scratch_databases() as (source, warehouse):
        load.load_file(source, path)
        return {date: _features_as_of(source, warehouse, date, settings) for date in REAL_DATES}


def evaluate(
    candidates: Iterable[Candidate],
    settings: Settings,
    real_path: Path | None,
    mixes: Iterable[str] = PLANTED_MIXES,
    seeds: Iterable[int] = PLANTED_SEEDS,
    lines: int = PLANTED_LINES,
    customers: int = PLANTED_CUSTOMERS,
    say: Callable[[str], None] = lambda message: None,
) -> dict:
    """Score every candidate on the planted shops and (with `real_path`) the real data."""
    candidates, mixes, seeds = list(candidates), tuple(mixes), tuple(seeds)
    current = default_candidate(settings)
    if current not in candidates:
        candidates.insert(0, current)
    planted = []
    for mix in mixes:
        for seed in seeds:
            say(f"planted shop: mix {mix}, seed {seed} ({lines:,} lines, {customers:,} customers)")
            planted.append((mix, seed, *planted_data(mix, seed, settings, lines, customers)))
    frames = None
    if real_path is not None:
        say(f"real data: features of {REAL_DATES[0]} to {REAL_DATES[-1]} from {real_path}")
        frames = real_data(real_path, settings)
    ceilings = [supervised_ceiling(frame, truth, settings.random_seed) for _, _, frame, truth in planted]
    rows = []
    for number, candidate in enumerate(candidates, 1):
        say(f"candidate {number}/{len(candidates)}: {candidate.label}")
        scores = [{"mix": mix, "seed": seed, **planted_scores(frame, truth, candidate, settings)}
                  for mix, seed, frame, truth in planted]
        rows.append(summarise(candidate, scores, real_scores(frames, candidate, settings) if frames else None))
    chosen, reason = choose_default(rows, current)
    return {"rows": rows, "default": current.label, "chosen": chosen["candidate"], "reason": reason,
            "supervised_ceiling_ari": float(np.mean(ceilings)) if ceilings else None,
            "mixes": list(mixes), "seeds": list(seeds), "planted_lines": lines, "planted_customers": customers,
            "real_dates": [date.isoformat() for date in REAL_DATES] if frames else []}


def write(result: dict, path: Path = OUTPUT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(result, indent=2, default=str).encode("utf-8"))
    return path
