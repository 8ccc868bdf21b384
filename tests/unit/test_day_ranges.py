"""Folding the days to rebuild into ranges: every day in exactly one range, and a range never
spans a day that holds lines but is not to be rebuilt (property-based, no database)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from segments.pipeline.extract import DAY, ExtractWindow, day_ranges

FIRST = dt.date(2011, 1, 1)
day_numbers = st.sets(st.integers(min_value=0, max_value=60), max_size=30)


def as_days(numbers: set[int]) -> list[dt.date]:
    return [FIRST + dt.timedelta(days=number) for number in numbers]


def days_in(ranges) -> list[dt.date]:
    return [each.start + DAY * offset for each in ranges for offset in range((each.end - each.start).days)]


@given(pending=day_numbers, with_lines=day_numbers)
def test_ranges_cover_the_days_and_span_no_day_with_lines_that_stays(pending, with_lines):
    days, days_with_lines = as_days(pending), set(as_days(with_lines))
    ranges = day_ranges(days, days_with_lines)
    covered = days_in(ranges)

    assert set(days) <= set(covered) and len(covered) == len(set(covered)), "every day once"
    assert not (set(covered) - set(days)) & days_with_lines, "a day with lines is rebuilt only when queued"
    assert all(each.start in days and each.end - DAY in days for each in ranges), "ranges start and end on queued days"
    assert all(before.end < after.start for before, after in zip(ranges, ranges[1:])), "ordered, apart"
    for before, after in zip(ranges, ranges[1:]):
        between = {before.end + DAY * offset for offset in range((after.start - before.end).days)}
        assert between & days_with_lines, "ranges stay apart only across a day with lines"


@given(pending=day_numbers)
def test_without_the_days_with_lines_only_consecutive_days_are_folded(pending):
    ranges = day_ranges(as_days(pending))
    assert sorted(days_in(ranges)) == sorted(as_days(pending))


def test_a_shop_closed_on_saturdays_rebuilds_its_weeks_in_one_range():
    weekdays = [day for day in as_days(set(range(28))) if day.weekday() != 5]
    assert day_ranges(weekdays, weekdays) == [ExtractWindow(weekdays[0], weekdays[-1] + DAY)]
    assert len(day_ranges(weekdays)) == 4, "without them, the three Saturdays after the first weekday cut four ranges"
