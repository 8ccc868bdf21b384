"""The run contract: which snapshot a DAG run publishes and how, fixed once by its first task.

Every later task receives it through XCom as plain JSON (`to_xcom`) and rebuilds it with
`from_xcom`; the date is parsed once, here, and stages read typed fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from segments.errors import InvalidParameterError, SnapshotDateError
from segments.settings import K_MAX, K_MIN, Settings

# The look-back and history limits a run accepts (also the DAG's Param bounds).
LOOKBACK_DAYS_RANGE = (0, 365)
HISTORY_DAYS_RANGE = (30, 36_500)


@dataclass(frozen=True)
class Snapshot:
    """Snapshot `as_of_date` as run `run_id` publishes it."""

    as_of_date: dt.date
    run_id: str
    # When the run started, in business time (naive, as the shop's tills record times).
    started_at: dt.datetime
    k: int | str
    lookback_days: int
    history_days: int | None
    full_refresh: bool
    force: bool

    def to_xcom(self) -> dict:
        """JSON-ready fields for XCom."""
        fields = asdict(self)
        fields.update(as_of_date=self.as_of_date.isoformat(), started_at=self.started_at.isoformat())
        return fields

    @classmethod
    def from_xcom(cls, fields: dict) -> Snapshot:
        return cls(**{
            **fields,
            "as_of_date": dt.date.fromisoformat(fields["as_of_date"]),
            "started_at": dt.datetime.fromisoformat(fields["started_at"]),
        })


def parse_k(value: int | str) -> int | str:
    """A k parameter: an integer from K_MIN to K_MAX, or 'auto'."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    problem = f"k must be an integer from {K_MIN} to {K_MAX} or 'auto', got {value!r}."
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise ValueError(problem) from None
    if not K_MIN <= k <= K_MAX:
        raise ValueError(problem)
    return k


def snapshot_date(logical_date: dt.datetime | None, run_after: dt.datetime, timezone: str) -> dt.date:
    """The business day a run publishes: its logical date's day in the business timezone.

    A manual run may have no logical date; then the day it was asked to run after counts.
    """
    moment = logical_date if logical_date is not None else run_after
    return moment.astimezone(ZoneInfo(timezone)).date()


def business_now(settings: Settings) -> dt.datetime:
    """The current wall-clock time in the business timezone, as the shop's tills record it (naive)."""
    return dt.datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)


def resolve(
    logical_date: dt.datetime | None, run_after: dt.datetime, run_id: str, params: dict, settings: Settings
) -> Snapshot:
    """Validate the run's params and fix what it publishes; fails before any work on a bad value."""
    lookback_days = int(params.get("lookback_days", settings.lookback_days))
    if not LOOKBACK_DAYS_RANGE[0] <= lookback_days <= LOOKBACK_DAYS_RANGE[1]:
        raise InvalidParameterError(f"lookback_days must be from {LOOKBACK_DAYS_RANGE[0]} to "
                                    f"{LOOKBACK_DAYS_RANGE[1]}, got {lookback_days}.")
    history_days = params.get("history_days")
    if history_days is not None and not HISTORY_DAYS_RANGE[0] <= int(history_days) <= HISTORY_DAYS_RANGE[1]:
        raise InvalidParameterError(f"history_days must be empty or from {HISTORY_DAYS_RANGE[0]} to "
                                    f"{HISTORY_DAYS_RANGE[1]}, got {history_days}.")
    try:
        k = parse_k(params.get("k", settings.k))
    except ValueError as error:
        raise InvalidParameterError(str(error)) from None
    as_of_date = snapshot_date(logical_date, run_after, settings.timezone)
    started_at = business_now(settings)
    if as_of_date > started_at.date():
        raise SnapshotDateError(
            f"Snapshot {as_of_date} is in the future (today is {started_at.date()} in {settings.timezone}); "
            "a snapshot describes what was known on its date, so it can only be published once that day has "
            "come. Nothing was done; choose today or an earlier date."
        )
    return Snapshot(
        as_of_date=as_of_date,
        run_id=run_id,
        started_at=started_at,
        k=k,
        lookback_days=lookback_days,
        history_days=None if history_days is None else int(history_days),
        full_refresh=bool(params.get("full_refresh", False)),
        force=bool(params.get("force", False)),
    )
