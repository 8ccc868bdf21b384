"""What a segment means: the sentence and recommended action each snapshot publishes per segment."""

from __future__ import annotations

import re

import pytest

from segments.pipeline import definitions, model
from segments.settings import Settings
from test_model import customers


@pytest.mark.parametrize(("name", "recency_percentile", "frequency_percentile", "expected"), [
    ("VIP Premium", 0.2, 0.9, "Protect and reward"),
    ("VIP Premium", 0.9, 0.9, "Win back high spenders"),
    ("Core Regular", 0.5, 0.5, "Grow the basket"),
    ("Core Regular (2)", 0.5, 0.5, "Grow the basket"),
    ("Loyal Regular", 0.3, 0.8, "Deepen loyalty"),
    ("New Promising", 0.2, 0.3, "Onboard"),
    ("At-Risk Loyal", 0.8, 0.7, "Win back before they lapse"),
    ("Lapsing Occasional", 0.8, 0.2, "Low-cost win-back"),
    ("Core Regular", 0.9, 0.2, "Low-cost win-back"),
    ("Entry-Level", 0.9, 0.1, "Second-purchase incentive"),
])
def test_every_segment_gets_the_action_its_behaviour_calls_for(name, recency_percentile, frequency_percentile, expected):
    assert definitions.recommended_action(name, recency_percentile, frequency_percentile).startswith(expected)


def test_definitions_rank_segments_by_value_and_describe_them_in_the_shops_currency():
    frame = customers()
    settings = Settings(currency="EUR")
    result = model.fit(frame, settings, 3, None)
    names = dict(zip(result.model.segment_ids, result.model.segment_names))
    by_rank = sorted(result.definitions, key=lambda definition: definition.value_rank)
    assert [names[definition.segment_id] for definition in by_rank] == ["VIP Premium", "Core Regular", "Entry-Level"]
    vip, core, entry = by_rank
    vip_share = sum(1 for name in result.assignments.map(names) if name == "VIP Premium") / len(frame)
    assert vip.description.startswith(f"{vip_share:.0%} of customers, ")
    assert "high-value, frequent buyers who bought recently" in vip.description
    assert re.search(r"Typically \d\d orders, EUR 2\d,\d{3} in total, last purchase \d days ago\.$", vip.description)
    assert "low-value, one-time or rare buyers who have not bought for a while" in entry.description
    assert "Typically 1 order," in entry.description
    assert vip.recommended_action.startswith("Protect and reward")
    assert core.recommended_action.startswith("Grow the basket")
    assert entry.recommended_action.startswith("Second-purchase incentive")
    assert model.fit(frame, settings, 3, None).definitions == result.definitions, "the same model says the same thing"
