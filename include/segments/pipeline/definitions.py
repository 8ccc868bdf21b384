"""What each segment means, for the people who act on it: a sentence and a recommended action.

Both are derived deterministically from the segment's behaviour at training time (how much,
how often and how recently its customers buy, compared with all segmented customers), so the
same model always says the same thing, and the report, the Airflow page and
`segments.segment_definitions` all show this one text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Percentile bands (of all segmented customers) that words stand for.
HIGH, LOW = 0.70, 0.35


@dataclass(frozen=True)
class SegmentDefinition:
    segment_id: int
    value_rank: int
    description: str
    recommended_action: str


def percentile_of(population: pd.Series, value: float) -> float:
    """Where `value` falls among `population`, 0 to 1 (ties count half)."""
    return float((population < value).mean() + 0.5 * (population == value).mean())


def base_name(name: str) -> str:
    """A segment name without the " (2)" that tells two segments of one kind apart."""
    return name.split(" (")[0]


def _band(percentile: float, high: str, middle: str, low: str) -> str:
    return high if percentile >= HIGH else low if percentile <= LOW else middle


def _plural(count: float, word: str) -> str:
    rounded = round(count)
    return f"{rounded:,} {word}{'' if rounded == 1 else 's'}"


def recommended_action(name: str, recency_percentile: float, frequency_percentile: float) -> str:
    """Marketing and retention action for a segment, from its name (its value and behaviour) and recency.

    A segment whose customers have mostly stopped buying (recency in the top band of days since
    the last purchase) gets a win-back action whatever its value; otherwise the action follows
    the segment's role.
    """
    base = base_name(name)
    lapsing = recency_percentile >= HIGH
    if base == "VIP Premium":
        if lapsing:
            return ("Win back high spenders: a personal call or e-mail from an account manager and an exclusive "
                    "offer on the products they used to buy.")
        return "Protect and reward: early access to new ranges, a loyalty tier and a named account manager."
    if base in ("At-Risk Loyal", "Lapsing Occasional") or (lapsing and base != "Entry-Level"):
        if frequency_percentile >= 0.5 or base == "At-Risk Loyal":
            return "Win back before they lapse: a personal reminder and a time-limited offer on their usual products."
        return "Low-cost win-back: one automated reminder with an incentive; stop if there is no response."
    if base == "New Promising":
        return "Onboard: a welcome series, recommendations from the first basket and an incentive for the next order."
    if base == "Loyal Regular":
        return "Deepen loyalty: member perks and bundles; invite the best of them into the VIP programme."
    if base == "Core Regular":
        return "Grow the basket: cross-sell related products, volume discounts and free delivery above a threshold."
    return "Second-purchase incentive: a discount on the next order, by automated e-mail only (low cost per customer)."


def define(
    frame: pd.DataFrame, assignments: pd.Series, names: dict[int, str], value_order: list[int], currency: str
) -> tuple[SegmentDefinition, ...]:
    """One definition per segment id; `value_order` lists the ids from most to least valuable."""
    revenue = frame["monetary_revenue"].astype(float)
    total_revenue = float(revenue.sum()) or 1.0
    definitions = []
    for segment_id in sorted(names):
        members = frame[assignments.to_numpy() == segment_id]
        if members.empty:
            definitions.append(SegmentDefinition(int(segment_id), value_order.index(segment_id) + 1,
                                                 "No customer is in this segment in this snapshot.", "None."))
            continue
        recency = float(members["recency_days"].median())
        orders = float(members["frequency_invoices"].median())
        member_revenue = members["monetary_revenue"].astype(float)
        money = float(member_revenue.median())
        recency_pct = percentile_of(frame["recency_days"], recency)
        frequency_pct = percentile_of(frame["frequency_invoices"], orders)
        value = _band(percentile_of(revenue, money), "high-value", "mid-value", "low-value")
        frequency = _band(frequency_pct, "frequent", "occasional", "one-time or rare")
        recent = _band(1 - recency_pct, "who bought recently", "", "who have not bought for a while")
        last = "today" if round(recency) == 0 else f"{_plural(recency, 'day')} ago"
        description = (
            f"{len(members) / len(frame):.0%} of customers, {float(member_revenue.sum()) / total_revenue:.0%} "
            f"of revenue: {value}, {frequency} buyers{' ' + recent if recent else ''}. Typically "
            f"{_plural(orders, 'order')}, {currency} {money:,.0f} in total, last purchase {last}."
        )
        definitions.append(SegmentDefinition(
            segment_id=int(segment_id),
            value_rank=value_order.index(segment_id) + 1,
            description=description,
            recommended_action=recommended_action(names[segment_id], recency_pct, frequency_pct),
        ))
    return tuple(definitions)
