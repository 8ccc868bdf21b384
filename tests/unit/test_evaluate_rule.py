"""The rule that may replace the default model: a clear planted gain, nothing lost on the real data."""

from __future__ import annotations

import dataclasses

import pytest

from segments.settings import Settings
from segments.tools.evaluate import (
    MIN_NIGHTLY_KEEP, MIN_PLANTED_ARI_GAIN, STABILITY_NOISE, TIE_ARI, Candidate, choose_default,
)
from segments.tools.evaluate import default_candidate, summarise

DEFAULT = Candidate("RFM", "log, clipped", "k-means", "fixed")
RIVAL = Candidate("RFM+tenure", "log, clipped", "k-means", "fixed")
REAL = {"bootstrap_stability": 0.90, "min_nightly_keep": 0.97, "seed_segments_at_k3": True}


def row(candidate: Candidate, ari: float, **real: object) -> dict:
    return summarise(candidate, [{"ari": ari, "named_as_expected": 0.6}], {**REAL, **real})


def test_the_default_is_the_configured_model() -> None:
    assert default_candidate(Settings()) == DEFAULT
    tenure = dataclasses.replace(Settings(), model_features=("recency_days", "frequency_invoices",
                                                             "monetary_revenue", "tenure_days"), k="auto")
    assert default_candidate(tenure) == dataclasses.replace(RIVAL, k_mode="auto")


def test_a_clear_planted_gain_that_loses_nothing_on_the_real_data_replaces_the_default() -> None:
    rows = [row(DEFAULT, 0.40), row(RIVAL, 0.40 + MIN_PLANTED_ARI_GAIN + 0.001)]
    chosen, reason = choose_default(rows, DEFAULT)
    assert chosen["candidate"] == RIVAL.label and "no worse on the real data" in reason


def test_among_gains_equal_within_noise_the_fewest_changes_to_the_default_win() -> None:
    unclipped = dataclasses.replace(RIVAL, scaling="log", k_mode="auto")
    rows = [row(DEFAULT, 0.40), row(unclipped, 0.50 + TIE_ARI / 2), row(RIVAL, 0.50)]
    assert choose_default(rows, DEFAULT)[0]["candidate"] == RIVAL.label
    rows = [row(DEFAULT, 0.40), row(unclipped, 0.50 + TIE_ARI * 2), row(RIVAL, 0.50)]
    assert choose_default(rows, DEFAULT)[0]["candidate"] == unclipped.label


@pytest.mark.parametrize(
    ("rival", "why"),
    [
        (row(RIVAL, 0.40 + MIN_PLANTED_ARI_GAIN - 0.001), "gain below the margin"),
        (row(dataclasses.replace(RIVAL, algorithm="gaussian mixture"), 0.60), "not re-scorable in SQL"),
        (row(RIVAL, 0.60, bootstrap_stability=0.90 - STABILITY_NOISE - 0.01), "less stable"),
        (row(RIVAL, 0.60, min_nightly_keep=MIN_NIGHTLY_KEEP - 0.001), "a night below the keep floor"),
        (row(RIVAL, 0.60, seed_segments_at_k3=False), "k=3 loses the seed's names"),
        (summarise(RIVAL, [{"ari": 0.60, "named_as_expected": 0.6}], None), "no real-data evidence"),
    ],
)
def test_the_default_stays_unless_every_condition_holds(rival: dict, why: str) -> None:
    chosen, reason = choose_default([row(DEFAULT, 0.40), rival], DEFAULT)
    assert chosen["candidate"] == DEFAULT.label, why
    assert "the default stays" in reason
