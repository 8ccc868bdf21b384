"""How the bench judges its targets: which apply to a run, and what the growth row notes."""

from __future__ import annotations

from segments.tools.bench.targets import TARGET_CUSTOMERS, evaluate_targets


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


def run_at_ten_million(customer_pool: int) -> dict:
    """A 10M-line record whose nightly took 0.07 of the notebook's time, scored in SQL."""
    return {"size": 10_000_000, "label": "10M", "data": {"customer_pool": customer_pool},
            "derived": {"nightly_until_published_over_notebook_time": 0.07},
            "nightly": {"scored_in": "sql"}}


def rows_by_target(record: dict) -> dict[str, dict]:
    return {row["target"]: row for row in evaluate_targets([record])}


def test_a_million_customers_run_judges_its_own_target_and_shows_the_others_for_information():
    rows = rows_by_target(run_at_ten_million(1_000_000))
    own = rows["with 1,000,000 customers: nightly until published ≤ 0.10 × the notebook's time (SQL scoring)"]
    assert (own["status"], own["note"]) == ("PASS", "")
    default = rows["nightly run until published ≤ 0.05 × the notebook's time"]
    assert default["status"] == "(fail)", "set at 80,000 customers: shown, not judged"
    assert default["note"] == f"informational: the target is set at 10M lines and {TARGET_CUSTOMERS:,} customers"


def test_a_run_of_the_default_customer_pool_is_judged_on_the_default_targets():
    rows = rows_by_target(run_at_ten_million(TARGET_CUSTOMERS))
    assert rows["nightly run until published ≤ 0.05 × the notebook's time"]["status"] == "FAIL"
    assert rows["with 1,000,000 customers: nightly until published ≤ 0.10 × the notebook's time (SQL scoring)"][
        "note"] == "needs CUSTOMERS=1000000"
