"""The benchmark's targets, as data: each a measure of a size's record and a threshold.

`evaluate_targets` judges every target at every size in one loop and returns the rows of the
report's target table; no threshold or target text lives anywhere else.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from segments.tools.bench.data import size_label
from segments.tools.bench.render import fmt_int, fmt_num, fmt_pct, fmt_ratio, lookup

TEN_MILLION = 10_000_000
FIFTY_MILLION = 5 * TEN_MILLION
COMPARISONS = {"≤": operator.le, "≥": operator.ge}
# How much a time grows from one case to another (50M lines against 10M, more snapshots against fewer).
GROWTH_LIMIT = 1.25
# The customer base every target is set for, but those of a larger one (Target.needs_customers);
# the bench's default customer pool (--customers).
TARGET_CUSTOMERS = 80_000


def fmt_growth(value: float | None) -> str:
    return fmt_ratio(value, "×")


def fmt_growth_limit(value: float) -> str:
    return f"{value:.2f}×"


@dataclass(frozen=True)
class Target:
    """A PASS/FAIL measure: the value at `key` in a size's record, compared with `threshold`."""

    name: str
    key: tuple[str, ...]
    comparison: Literal["≤", "≥"]
    threshold: float
    format: Callable[[float | None], str]
    # How the threshold is written when not like the measured value.
    threshold_format: Callable[[float], str] | None = None
    # A target for a customer base of at least this size (the bench's --customers, CUSTOMERS= in
    # make bench), where training samples and every customer is scored in SQL.
    needs_customers: int = 0
    # A target of a measurement the bench takes only when asked: the option that asks for it.
    needs_option: str = ""

    def set_for(self, size: int, customer_pool: int) -> bool:
        """Whether a run of `size` lines and `customer_pool` customers is the one the target is set
        for: 10M lines, of the default customer pool or of the target's larger one. Elsewhere it is
        shown in parentheses, for information, since fixed costs and sample sizes weigh differently there."""
        right_pool = customer_pool >= self.needs_customers if self.needs_customers else customer_pool == TARGET_CUSTOMERS
        return size == TEN_MILLION and right_pool

    def judge(self, size: str, value: float | None, applies: bool = True, note: str = "",
              measured: str | None = None) -> dict:
        """The target's row of the report at `size`: measured, threshold and status."""
        met = None if value is None else COMPARISONS[self.comparison](value, self.threshold)
        return {"target": self.name, "size": size, "measured": self.format(value) if measured is None else measured,
                "threshold": f"{self.comparison} {(self.threshold_format or self.format)(self.threshold)}",
                "status": _status(met, applies), "note": note}


# Judged at every size, in this order.
TARGETS = (
    Target("first full run ≤ 0.33 × the notebook's time", ("derived", "full_over_notebook_time"),
           "≤", 0.33, fmt_ratio),
    Target("extraction ≥ 800,000 lines/s (binary COPY, full run)", ("derived", "extract_lines_per_s"),
           "≥", 800_000, fmt_int),
    Target("nightly run until published ≤ 0.05 × the notebook's time",
           ("derived", "nightly_until_published_over_notebook_time"), "≤", 0.05, fmt_ratio),
    Target("nightly peak memory ≤ 1/10 of the notebook's (worker processes)",
           ("derived", "nightly_over_notebook_memory"), "≤", 1 / 10, fmt_ratio),
    Target("… counting the nightly's PostgreSQL backends too (their USS)",
           ("derived", "nightly_with_backends_over_notebook_memory"), "≤", 1 / 10, fmt_ratio),
    Target("with 1,000,000 customers: nightly until published ≤ 0.10 × the notebook's time (SQL scoring)",
           ("derived", "nightly_until_published_over_notebook_time"), "≤", 0.10, fmt_ratio,
           needs_customers=1_000_000),
    Target("nightly stages after more published snapshots ≤ 1.25 × before them (the date run again)",
           ("derived", "rerun_after_snapshots_over_before"), "≤", GROWTH_LIMIT, fmt_growth,
           threshold_format=fmt_growth_limit, needs_option="SNAPSHOTS=180"),
    Target("adjusted Rand index ≥ 0.90 (pipeline vs notebook: RFM, k=3)", ("agreement", "adjusted_rand_index"),
           "≥", 0.90, lambda value: fmt_num(value, 3)),
    Target("segment agreement ≥ 90%", ("agreement", "agreement_share"), "≥", 0.9, fmt_pct),
)
# Judged once, across sizes: the nightly run grows with the day's lines, not with the history.
# `key` is the value compared between the largest size and 10M; `{large}` names that size.
NIGHTLY_GROWTH = Target("nightly until published at {large} ≤ 1.25 × at 10M", ("derived", "nightly_until_published_s"),
                        "≤", GROWTH_LIMIT, fmt_growth, threshold_format=fmt_growth_limit)


def _status(met: bool | None, applies: bool) -> str:
    if met is None:
        return "n/a"
    if applies:
        return "PASS" if met else "FAIL"
    return "(pass)" if met else "(fail)"


def evaluate_targets(records: list[dict]) -> list[dict]:
    """Every target, per size where it is defined, then the growth between sizes."""
    rows = []
    for record in records:
        customer_pool = lookup(record, "data", "customer_pool") or 0
        for target in TARGETS:
            if customer_pool < target.needs_customers:
                rows.append(target.judge(record["label"], None, measured="not run",
                                         note=f"needs CUSTOMERS={target.needs_customers}"))
                continue
            if target.needs_option and lookup(record, *target.key) is None:
                rows.append(target.judge(record["label"], None, measured="not run", note=f"needs {target.needs_option}"))
                continue
            informational = not target.set_for(record["size"], customer_pool)
            note = (f"informational: the target is set at 10M lines and "
                    f"{target.needs_customers or TARGET_CUSTOMERS:,} customers") if informational else ""
            if target.needs_customers and lookup(record, "nightly", "scored_in") != "sql":
                informational, note = True, "the nightly run did not score in SQL"
            rows.append(target.judge(record["label"], lookup(record, *target.key), applies=not informational,
                                     note=note))
    rows.append(_nightly_growth(records))
    return rows


def _nightly_growth(records: list[dict]) -> dict:
    by_size = {record["size"]: record for record in records}
    large = next((size for size in by_size if size >= FIFTY_MILLION), None)
    if TEN_MILLION not in by_size or large is None:
        target = dataclasses.replace(NIGHTLY_GROWTH, name=NIGHTLY_GROWTH.name.format(large=size_label(FIFTY_MILLION)))
        return target.judge("-", None, measured="not run", note="needs both 10M and 50M in --sizes")
    target = dataclasses.replace(NIGHTLY_GROWTH, name=NIGHTLY_GROWTH.name.format(large=size_label(large)))
    small_seconds = lookup(by_size[TEN_MILLION], *NIGHTLY_GROWTH.key)
    large_seconds = lookup(by_size[large], *NIGHTLY_GROWTH.key)
    growth = large_seconds / small_seconds if small_seconds and large_seconds is not None else None
    # A night reads a few pages of each customer it touches, from memory or from the disk: which
    # one depends on the machine's memory beside the warehouse's size, and is told here.
    reads = {size: lookup(by_size[size], "nightly", "storage_read_mib") for size in (TEN_MILLION, large)}
    note = "" if None in reads.values() else (
        f"read from disk: {reads[large]:,.0f} MiB at {size_label(large)}, {reads[TEN_MILLION]:,.0f} MiB at 10M")
    return target.judge(f"{size_label(large)} vs 10M", growth, note=note)
