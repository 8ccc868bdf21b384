"""`segments evaluate` on the real data: the evidence behind the default model, measured as the
evaluation measures every candidate."""

from __future__ import annotations

import dataclasses

import pytest

from segments.pipeline.model import BOTTOM_NAME, MIDDLE_NAME, TOP_NAME
from segments.settings import Settings
from segments.tools import evaluate

pytestmark = pytest.mark.real_data


def test_the_default_model_keeps_the_seed_segments_and_its_customers_night_after_night(real_data) -> None:
    settings = Settings()
    default = evaluate.default_candidate(settings)
    tenure = dataclasses.replace(default, features="RFM+tenure")
    result = evaluate.evaluate([default, tenure], settings, real_data, mixes=["rare_vips"], seeds=[1],
                               lines=60_000, customers=800)
    rows = {row["candidate"]: row for row in result["rows"]}

    real = rows[default.label]["real"]
    assert real["k"] == 3 and real["seed_segments_at_k3"]
    profile = real["profile_at_k3"]
    assert profile[TOP_NAME]["monetary_revenue"] > profile[MIDDLE_NAME]["monetary_revenue"] \
        > profile[BOTTOM_NAME]["monetary_revenue"]
    assert sorted(real["nightly_keep"]) == [f"2011-12-{day:02}" for day in range(2, 11)]
    assert real["min_nightly_keep"] >= evaluate.MIN_NIGHTLY_KEEP
    assert real["bootstrap_stability"] >= 0.8
    # Adding tenure re-cuts the real customers at k=3 (the newest become "Core Regular", buying
    # less often than Entry-Level): the seed's segments are lost, so it cannot replace the default.
    assert not rows[tenure.label]["real"]["seed_segments_at_k3"]
    assert result["chosen"] == default.label
