"""The growth target between 10M and 50M lines says how much each night read from the disk."""

from __future__ import annotations

from segments.tools.bench.targets import evaluate_targets


def night(size: int, label: str, seconds: float, disk_mib: float | None) -> dict:
    """A size's record as the bench keeps it, with only what the growth target reads."""
    return {"size": size, "label": label, "derived": {"nightly_until_published_s": seconds},
            "nightly": {"storage_read_mib": disk_mib}}


def growth_row(records: list[dict]) -> dict:
    (row,) = [row for row in evaluate_targets(records) if row["target"].startswith("nightly until published at")]
    return row


def test_the_growth_row_says_what_each_night_read_from_the_disk():
    row = growth_row([night(10_000_000, "10M", 2.0, 0.4), night(50_000_000, "50M", 3.0, 1_234.6)])
    assert (row["measured"], row["status"]) == ("1.500×", "FAIL")
    assert row["note"] == "read from disk: 1,235 MiB at 50M, 0 MiB at 10M"


def test_without_the_disk_reads_of_both_nights_the_growth_row_says_nothing_of_them():
    row = growth_row([night(10_000_000, "10M", 2.0, None), night(50_000_000, "50M", 2.2, 800.0)])
    assert (row["measured"], row["status"], row["note"]) == ("1.100×", "PASS", "")
