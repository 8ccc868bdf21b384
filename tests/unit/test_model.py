"""The model on tiny, obvious frames: no database, no Airflow, each test in well under a second.

Three groups of customers anyone would name the same way: a few big, frequent, recent buyers;
a middle; and many one-off buyers who stopped long ago.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from segments.errors import InsufficientDataError
from segments.pipeline import model
from segments.pipeline.model import (
    BOTTOM_NAME, MIDDLE_NAME, TOP_NAME, PreviousSnapshot, SegmentModel, SnapshotTotals,
)
from segments.settings import K_MAX, K_MIN, RFM_FEATURES, Settings

# recency_days, frequency_invoices, monetary_revenue, tenure_days at the centre of each group
GROUPS = {
    "vip": (5, 40, 20_000, 700, 30),
    "core": (45, 8, 1_500, 400, 50),
    "entry": (250, 1, 60, 260, 80),
}


def customers(seed: int = 0, groups: dict = GROUPS) -> pd.DataFrame:
    """Customers scattered by a few percent around their group's centre; the group is in `group`."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, (recency, frequency, monetary, tenure, count) in groups.items():
        jitter = lambda centre: np.maximum(centre * rng.uniform(0.85, 1.15, count), 0)  # noqa: E731
        frames.append(pd.DataFrame({
            "recency_days": np.round(jitter(recency)),
            "frequency_invoices": np.maximum(np.round(jitter(frequency)), 1),
            "monetary_revenue": jitter(monetary),
            "tenure_days": np.round(jitter(tenure)),
            "group": name,
        }))
    frame = pd.concat(frames, ignore_index=True)
    frame.index = pd.Index([f"C{number:04d}" for number in range(len(frame))], name="customer_id")
    return frame


def segment_of_each_group(frame: pd.DataFrame, assignments: pd.Series) -> dict[str, int]:
    """The one segment id each group lands in (fails when a group is split)."""
    per_group = assignments.groupby(frame["group"]).unique()
    assert all(len(ids) == 1 for ids in per_group), per_group.to_dict()
    return {group: int(ids[0]) for group, ids in per_group.items()}


# --- the scaler: log1p, clip to learned quantiles, standardise ---------------------------------

def test_scaler_logs_then_standardises_each_feature():
    frame = pd.DataFrame({"recency_days": [0.0, 9.0, 99.0], "frequency_invoices": [1.0, 1.0, 1.0]})
    scaler = model.fit_scaler(frame, ("recency_days", "frequency_invoices"), clip_quantile=1.0)
    logged = np.log([1, 10, 100])
    assert scaler.mean[0] == pytest.approx(logged.mean())
    assert scaler.scale[0] == pytest.approx(logged.std())
    scaled = scaler.transform(frame)
    assert scaled[:, 0] == pytest.approx((logged - logged.mean()) / logged.std())
    # A constant feature keeps scale 1 (no division by zero) and maps to 0.
    assert scaler.scale[1] == 1.0 and scaled[:, 1] == pytest.approx([0, 0, 0])
    assert scaler.inverse(scaled)[:, 0] == pytest.approx([0, 9, 99])


def test_scaler_clips_outliers_to_the_learned_quantiles_and_negatives_to_zero():
    values = np.r_[np.arange(1.0, 100.0), 1e9]  # 99 ordinary customers and one wholesale buyer
    frame = pd.DataFrame({"monetary_revenue": values})
    scaler = model.fit_scaler(frame, ("monetary_revenue",), clip_quantile=0.95)
    logged = np.log1p(values)
    assert scaler.clip_high[0] == pytest.approx(np.quantile(logged, 0.95))
    assert scaler.clip_low[0] == pytest.approx(np.quantile(logged, 0.05))
    assert scaler.clip_high[0] < np.log1p(1e9) / 2, "the outlier must not set the upper bound"

    probe = pd.DataFrame({"monetary_revenue": [1e9, 1e12, np.expm1(scaler.clip_high[0]), -50.0, 0.0, 1.0]})
    scaled = scaler.transform(probe)[:, 0]
    assert scaled[0] == pytest.approx(scaled[1]) == pytest.approx(scaled[2]), "beyond the upper bound is the bound"
    assert scaled[3] == pytest.approx(scaled[4]) == pytest.approx(scaled[5]), "negatives count as 0, below the lower bound"
    assert scaled.max() == pytest.approx((scaler.clip_high[0] - scaler.mean[0]) / scaler.scale[0])


def test_scaler_survives_its_plain_data_form():
    frame = customers()
    scaler = model.fit_scaler(frame, RFM_FEATURES, clip_quantile=0.995)
    again = model.Scaler.from_dict(scaler.to_dict())
    assert again == scaler
    assert np.array_equal(again.transform(frame), scaler.transform(frame))


# --- fit, k choice, naming ---------------------------------------------------------------------

def test_fit_on_a_tiny_frame_finds_the_obvious_groups_and_names_them():
    frame = customers()
    result = model.fit(frame, Settings(), 3, None)

    assert result.model.k == 3 and result.k_selection == []
    ids = segment_of_each_group(frame, result.assignments)
    # Without a predecessor, ids follow value order from 1.
    assert ids == {"vip": 1, "core": 2, "entry": 3}
    names = dict(zip(result.model.segment_ids, result.model.segment_names))
    assert [names[ids[group]] for group in ("vip", "core", "entry")] == [TOP_NAME, MIDDLE_NAME, BOTTOM_NAME]
    assert result.assignments.index.equals(frame.index)
    assert result.training_customers == len(frame)
    assert result.metrics["segment_sizes"] == {TOP_NAME: 30, MIDDLE_NAME: 50, BOTTOM_NAME: 80}
    assert result.metrics["smallest_segment_share"] == pytest.approx(30 / 160)
    assert result.metrics["silhouette"] > 0.6, "three well separated groups"
    # The stored model rescores every customer exactly as the fit assigned them.
    assert result.model.assign(frame).equals(result.assignments)


def test_fit_is_deterministic_for_a_seed():
    frame = customers()
    first, second = model.fit(frame, Settings(), 3, None), model.fit(frame, Settings(), 3, None)
    assert np.array_equal(first.model.centroids, second.model.centroids)
    assert first.assignments.equals(second.assignments)


def test_fit_refuses_too_few_customers_for_k():
    frame = customers().head(29)
    with pytest.raises(InsufficientDataError, match="Only 29 customers have a net purchase"):
        model.fit(frame, Settings(), 3, None)
    with pytest.raises(InsufficientDataError, match="k=auto"):
        model.fit(customers().head(79), Settings(), "auto", None)


def test_auto_k_chooses_the_number_of_obvious_groups():
    frame = customers()
    result = model.fit(frame, Settings(), "auto", None)
    assert result.model.k == 3
    curve = {point["k"]: point for point in result.k_selection}
    assert sorted(curve) == list(range(K_MIN, K_MAX + 1))
    best = max(curve.values(), key=lambda point: point["silhouette"])
    assert best["k"] == 3 and best["eligible"]


def test_auto_k_never_chooses_a_k_with_a_segment_below_the_minimum_share():
    # Four groups, the fourth only 3 customers of 163: as its own segment it holds 1.8%.
    groups = {**GROUPS, "wholesale": (2, 300, 900_000, 700, 3)}
    frame = customers(groups=groups)
    scaled = model.fit_scaler(frame, RFM_FEATURES, 0.995).transform(frame)

    settings = Settings()
    assert settings.min_segment_share == 0.02
    k, curve = model.choose_k(scaled, settings)
    assert all(point["eligible"] == (point["smallest_share"] >= 0.02) for point in curve)
    assert not next(point for point in curve if point["k"] == 4)["eligible"]
    assert k == max((point for point in curve if point["eligible"]), key=lambda point: point["silhouette"])["k"]
    assert k != 4

    lenient = dataclasses.replace(settings, min_segment_share=0.01)
    assert next(point for point in model.choose_k(scaled, lenient)[1] if point["k"] == 4)["eligible"]


def test_names_follow_value_whatever_the_cluster_numbers():
    frame = customers()
    for labels_of in ({"vip": 0, "core": 1, "entry": 2}, {"vip": 2, "core": 0, "entry": 1}):
        labels = frame["group"].map(labels_of).to_numpy()
        names = model.name_segments(frame, labels)
        assert names == {labels_of["vip"]: TOP_NAME, labels_of["core"]: MIDDLE_NAME, labels_of["entry"]: BOTTOM_NAME}
        assert model.value_ranking(frame, labels) == [labels_of["vip"], labels_of["core"], labels_of["entry"]]


def test_middle_segments_get_descriptive_and_distinct_names():
    groups = {
        **GROUPS,
        # Bought often, long ago: lapsing loyal customers.
        "at_risk": (300, 20, 5_000, 700, 40),
        # Joined recently, bought a few times.
        "new": (10, 3, 300, 15, 40),
    }
    frame = customers(groups=groups)
    labels = frame["group"].map({name: number for number, name in enumerate(groups)}).to_numpy()
    names = model.name_segments(frame, labels)
    assert names[0] == TOP_NAME and names[2] == BOTTOM_NAME
    assert names[3] == "At-Risk Loyal"
    assert names[4] == "New Promising"
    assert len(set(names.values())) == len(names)


@pytest.mark.parametrize("lapsed_spend", [5_000, 60_000])
def test_above_three_segments_lapsed_former_spenders_are_named_at_risk_wherever_their_value_ranks(lapsed_spend):
    # Lapsed former regulars: bought often, spent a lot, stopped months ago. At 5,000 they sit in
    # the middle of the value ranking, at 60,000 at its top: neither "Core Regular" nor "VIP Premium".
    groups = {
        **GROUPS,
        "lapsed": (300, 20, lapsed_spend, 700, 40),
        "steady": (20, 10, 2_000, 600, 40),
    }
    frame = customers(groups=groups)
    labels = frame["group"].map({name: number for number, name in enumerate(groups)}).to_numpy()
    names = model.name_segments(frame, labels)
    assert names[3] == "At-Risk Loyal"
    assert names[0] == TOP_NAME and names[2] == BOTTOM_NAME
    assert MIDDLE_NAME not in names[3] and TOP_NAME not in names[3]


def test_above_three_segments_every_segment_of_one_time_buyers_is_entry_level():
    # Two clusters of one-time buyers (long ago, recently): both "one-time or minimal", neither
    # "New Promising" because they arrived lately.
    groups = {**GROUPS, "recent_one_off": (20, 1, 80, 20, 60), "steady": (20, 10, 2_000, 600, 40)}
    frame = customers(groups=groups)
    labels = frame["group"].map({name: number for number, name in enumerate(groups)}).to_numpy()
    names = model.name_segments(frame, labels)
    assert names[2] == BOTTOM_NAME
    assert names[3].startswith(BOTTOM_NAME)


def test_with_three_segments_the_names_are_the_original_analysis_whatever_the_behaviour():
    groups = {"vip": GROUPS["vip"], "lapsed": (300, 20, 5_000, 700, 40), "entry": GROUPS["entry"]}
    frame = customers(groups=groups)
    labels = frame["group"].map({name: number for number, name in enumerate(groups)}).to_numpy()
    assert set(model.name_segments(frame, labels).values()) == {TOP_NAME, MIDDLE_NAME, BOTTOM_NAME}


# --- ids matched against the predecessor -------------------------------------------------------

def predecessor_with_ids(frame: pd.DataFrame, ids_by_group: dict[str, int]) -> SegmentModel:
    """A previous model whose centroids are the groups' centres, with the given ids."""
    scaler = model.fit_scaler(frame, RFM_FEATURES, 0.995)
    centres = [scaler.transform(frame[frame["group"] == group]).mean(axis=0) for group in ids_by_group]
    return SegmentModel(scaler, np.array(centres), tuple(ids_by_group.values()), tuple(f"old {g}" for g in ids_by_group))


def test_ids_follow_the_nearest_previous_centroid_not_value_order():
    frame = customers()
    previous = predecessor_with_ids(frame, {"entry": 7, "vip": 3, "core": 9})
    later = customers(seed=1)  # the same groups a day later: slightly different customers
    scaler = model.fit_scaler(later, RFM_FEATURES, 0.995)
    centroids = np.array([scaler.transform(later[later["group"] == group]).mean(axis=0)
                          for group in ("vip", "core", "entry")])
    ids = model.match_ids(centroids, scaler, ranked=[0, 1, 2], previous=previous)
    assert ids == {0: 3, 1: 9, 2: 7}

    # Without a predecessor, or one on other features, ids follow value order.
    assert model.match_ids(centroids, scaler, [2, 0, 1], None) == {2: 1, 0: 2, 1: 3}
    other = dataclasses.replace(previous, scaler=dataclasses.replace(previous.scaler, features=("a", "b", "c")))
    assert model.match_ids(centroids, scaler, [0, 1, 2], other) == {0: 1, 1: 2, 2: 3}


def test_a_new_cluster_gets_a_fresh_id_after_the_previous_ones():
    groups = {**GROUPS, "at_risk": (300, 20, 5_000, 700, 40)}
    frame = customers(groups=groups)
    previous = predecessor_with_ids(customers(), {"vip": 4, "core": 5, "entry": 6})
    scaler = model.fit_scaler(frame, RFM_FEATURES, 0.995)
    order = ("vip", "at_risk", "core", "entry")
    centroids = np.array([scaler.transform(frame[frame["group"] == group]).mean(axis=0) for group in order])
    ids = model.match_ids(centroids, scaler, ranked=[0, 1, 2, 3], previous=previous)
    assert ids[0] == 4 and ids[2] == 5 and ids[3] == 6
    assert ids[1] == 7


def test_a_fit_after_a_predecessor_keeps_its_ids():
    frame = customers()
    first = model.fit(frame, Settings(), 3, None)
    # The predecessor's ids are not value order: the next fit must keep them anyway.
    renumber = {1: 12, 2: 10, 3: 11}
    previous_model = dataclasses.replace(first.model, segment_ids=tuple(renumber[i] for i in first.model.segment_ids))
    previous = PreviousSnapshot(dt.date(2011, 12, 9), previous_model)

    second = model.fit(frame, Settings(), 3, previous)
    assert segment_of_each_group(frame, second.assignments) == {"vip": 12, "core": 10, "entry": 11}


def previous_of(result: model.FitResult) -> PreviousSnapshot:
    return PreviousSnapshot(dt.date(2011, 12, 9), result.model,
                            result.metrics["fresh_fit_inertia_per_customer"])


def test_a_snapshot_whose_previous_centroids_still_fit_as_tightly_skips_the_fresh_fit():
    first = model.fit(customers(seed=0), Settings(), 3, None)
    assert first.metrics["initialised_from"] == "k-means++"
    second = model.fit(customers(seed=1), Settings(), 3, previous_of(first))
    assert second.metrics["initialised_from"] == "previous centroids"
    # Carried over from the predecessor, not measured again: no fresh fit ran.
    assert second.metrics["fresh_fit_inertia_per_customer"] == first.metrics["fresh_fit_inertia_per_customer"]
    assert segment_of_each_group(customers(seed=1), second.assignments) == {"vip": 1, "core": 2, "entry": 3}


def test_previous_centroids_stuck_in_a_worse_fit_give_way_to_a_fresh_fit():
    frame = customers()
    first = model.fit(frame, Settings(), 3, None)
    scaler = first.model.scaler
    centre = {group: scaler.transform(frame[frame["group"] == group]).mean(axis=0) for group in GROUPS}
    # Two centroids on either side of the VIP group, one between core and entry: from there
    # K-Means splits the VIPs and merges the rest, a local optimum far looser than the groups.
    stuck = dataclasses.replace(first.model, centroids=np.array([
        centre["vip"] - 0.05, centre["vip"] + 0.05, (centre["core"] + centre["entry"]) / 2,
    ]))
    second = model.fit(frame, Settings(), 3, dataclasses.replace(previous_of(first), model=stuck))
    assert second.metrics["initialised_from"] == "k-means++"
    assert len(set(segment_of_each_group(frame, second.assignments).values())) == 3


@pytest.mark.parametrize("known", [None, 1e-6], ids=["unknown (an older model)", "tighter than any fit"])
def test_without_a_last_fresh_fit_to_compare_with_the_fresh_fit_runs_and_is_remembered(known):
    first = model.fit(customers(seed=0), Settings(), 3, None)
    later = customers(seed=1)
    second = model.fit(later, Settings(), 3, dataclasses.replace(previous_of(first), fresh_fit_inertia_per_customer=known))
    assert second.metrics["fresh_fit_inertia_per_customer"] == model.fit(later, Settings(), 3, None).metrics[
        "fresh_fit_inertia_per_customer"]


# --- the quality gate --------------------------------------------------------------------------

GOOD = {"smallest_segment_share": 0.10, "silhouette": 0.45, "changed_segment_share": 0.05}
TOTALS = SnapshotTotals(customers=4_300, revenue=8_000_000.0)


def test_a_good_snapshot_passes_the_gate():
    settings = Settings()
    assert model.quality_failures(GOOD, settings, TOTALS) == []
    assert model.quality_failures(GOOD, settings, TOTALS, predecessor=SnapshotTotals(4_250, 7_900_000.0),
                                  published=SnapshotTotals(4_300, 8_000_000.0)) == []
    # A first snapshot has no migration share at all.
    assert model.quality_failures({key: GOOD[key] for key in ("smallest_segment_share", "silhouette")},
                                  settings, TOTALS) == []


@pytest.mark.parametrize(("change", "reason"), [
    ({"smallest_segment_share": 0.015}, "smallest segment holds 1.5% of customers, below the minimum 2.0%"),
    ({"silhouette": 0.12}, "silhouette 0.120 is below the floor 0.200"),
    ({"changed_segment_share": 0.40}, "40.0% of customers would change segment at once, above the limit 25.0%"),
])
def test_the_gate_refuses_a_bad_model_with_its_reason(change, reason):
    assert model.quality_failures({**GOOD, **change}, Settings(), TOTALS) == [reason]


def test_the_gate_reports_every_failure_at_once():
    bad = {"smallest_segment_share": 0.001, "silhouette": 0.01, "changed_segment_share": 0.9}
    assert len(model.quality_failures(bad, Settings(), TOTALS)) == 3


@pytest.mark.parametrize("predecessor", [
    SnapshotTotals(customers=430, revenue=8_000_000.0),      # customers jumped 10x
    SnapshotTotals(customers=4_300, revenue=800_000_000.0),  # revenue fell 100x (a unit error)
])
def test_the_gate_refuses_a_jump_by_the_factor_from_the_predecessor(predecessor):
    (failure,) = model.quality_failures(GOOD, Settings(), TOTALS, predecessor=predecessor)
    assert "in one step from the predecessor" in failure and "limit 10" in failure
    # Just under the factor passes.
    near = SnapshotTotals(customers=int(TOTALS.customers / 9.9), revenue=TOTALS.revenue)
    assert model.quality_failures(GOOD, Settings(), TOTALS, predecessor=near) == []


def test_the_gate_refuses_a_rerun_that_shrinks_a_published_date_unless_forced():
    published = SnapshotTotals(customers=6_000, revenue=9_000_000.0)  # 4,300 is 28% fewer
    (failure,) = model.quality_failures(GOOD, Settings(), TOTALS, published=published)
    assert "from 6,000 to 4,300 customers (28.3%, limit 20%)" in failure and "force=true" in failure
    assert model.quality_failures(GOOD, Settings(), TOTALS, published=published, force=True) == []
    assert model.quality_failures(GOOD, Settings(), TOTALS, published=SnapshotTotals(5_000, 9e6)) == []


def test_bootstrap_stability_is_near_one_for_segments_the_data_has_and_lower_for_noise():
    settings = Settings()
    clear = model.fit(customers(), settings, 3, None)
    assert clear.metrics["bootstrap_stability"] >= 0.95
    rng = np.random.default_rng(3)
    noise = pd.DataFrame({
        "recency_days": rng.uniform(0, 365, 600), "frequency_invoices": rng.uniform(1, 30, 600),
        "monetary_revenue": rng.uniform(10, 5000, 600), "tenure_days": rng.uniform(0, 700, 600),
        "avg_order_revenue": 100.0, "items_per_order": 10.0, "return_rate": 0.0, "distinct_products": 5,
    }, index=[f"c{n}" for n in range(600)])
    arbitrary = model.fit(noise, settings, 6, None)
    assert arbitrary.metrics["bootstrap_stability"] < clear.metrics["bootstrap_stability"] - 0.1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rows=st.integers(3, 300), dimensions=st.integers(1, 4), labels_drawn=st.integers(2, 6),
       sample_size=st.integers(2, 320), seed=st.integers(0, 2**31 - 1))
def test_silhouette_is_scikit_learns_on_the_same_seeded_sample(data, rows, dimensions, labels_drawn, sample_size, seed):
    """Any points (repeated ones too, whose distance is zero), labels and sample size: the value of
    scikit-learn's silhouette_score with the same sample_size and random_state."""
    from sklearn.metrics import silhouette_score

    coordinates = st.floats(-1e3, 1e3, allow_nan=False) | st.sampled_from([0.0, 1.0])
    points = np.array(data.draw(st.lists(st.lists(coordinates, min_size=dimensions, max_size=dimensions),
                                         min_size=rows, max_size=rows)))
    labels = np.array(data.draw(st.lists(st.integers(0, labels_drawn - 1), min_size=rows, max_size=rows))) * 7
    try:
        expected = silhouette_score(points, labels, sample_size=sample_size, random_state=seed)
    except ValueError:
        assume(False)  # scikit-learn refuses a sample with one label, or with as many labels as points
    assert model.silhouette(points, labels, sample_size, seed) == pytest.approx(expected, abs=1e-12)


def test_a_sample_left_with_one_segment_scores_a_silhouette_of_zero_and_the_gate_refuses_it():
    """scikit-learn refuses such a sample; the pipeline scores it 0, no separation, which the
    quality gate's silhouette floor refuses."""
    points = np.random.default_rng(5).normal(size=(50, 3))
    score = model.silhouette(points, np.zeros(50, dtype=int), sample_size=5000, seed=1)
    assert score == 0.0
    assert model.quality_failures({**GOOD, "silhouette": score}, Settings(), TOTALS) == [
        "silhouette 0.000 is below the floor 0.200"]
