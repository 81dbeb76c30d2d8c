"""Business-time arithmetic for response deadlines: pure functions over aware datetimes.

Why wall-clock calendars and real elapsed time together: "10:00 the next business day" is a
local wall time (it must stay 10:00 across a DST change), while "within 2 business hours" is
elapsed time inside the local opening hours (a DST night is outside them, so nothing is lost
or gained). Every calendar step is done on local *dates*, and every local wall time is turned
into an instant through ``ZoneInfo`` once, so a DST transition can never shift a deadline.

A wall time that does not exist (the hour skipped in spring) is moved forward by the gap, as
``zoneinfo`` does with ``fold=0``; an ambiguous one (the hour repeated in autumn) is the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import SlaConfig, SlaRule

MAX_SEARCH_DAYS = 3660  # a calendar with no open day in ten years is a config error


@dataclass(frozen=True)
class BusinessCalendar:
    """One location's working days and hours, in its own timezone."""

    tz: ZoneInfo
    business_days: frozenset[int] = frozenset(range(5))
    holidays: frozenset[date] = frozenset()
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    @classmethod
    def from_config(
        cls, sla: SlaConfig, timezone: str, location_key: str | None
    ) -> BusinessCalendar:
        holidays = set(sla.holidays) | set(sla.location_holidays.get(location_key or "", []))
        return cls(
            tz=ZoneInfo(timezone),
            business_days=frozenset(sla.business_days),
            holidays=frozenset(holidays),
            opens=sla.opens,
            closes=sla.closes,
        )

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.business_days and day not in self.holidays

    def at(self, day: date, wall: time) -> datetime:
        """The UTC instant of a local wall time on a local date (gap times move forward)."""
        local = datetime.combine(day, wall, tzinfo=self.tz)
        return local.astimezone(UTC)

    def local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.tz).date()

    def next_business_day(self, after: date) -> date:
        """The first business day strictly after ``after``."""
        day = after
        for _ in range(MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_business_day(day):
                return day
        raise ValueError("no business day within ten years: check sla.business_days/holidays")


def next_business_day_at(received: datetime, hour: int, calendar: BusinessCalendar) -> datetime:
    """``hour``:00 local time on the first business day after the local day of ``received``.

    A review seen on Friday (or on Saturday) is due Monday at 10:00; one seen on Monday at 08:00
    is due on Tuesday: "the next business day" always gives the team one working day.
    """
    day = calendar.next_business_day(calendar.local_date(received))
    return calendar.at(day, time(hour, 0))


def add_business_hours(start: datetime, hours: float, calendar: BusinessCalendar) -> datetime:
    """``start`` plus ``hours`` of elapsed time counted only inside opening hours on business
    days; a review that arrives at night starts counting when the doors open."""
    remaining = timedelta(hours=hours)
    cursor = _aware(start).astimezone(UTC)
    day = calendar.local_date(cursor)
    for _ in range(MAX_SEARCH_DAYS):
        if calendar.is_business_day(day):
            opens, closes = calendar.at(day, calendar.opens), calendar.at(day, calendar.closes)
            begin = max(cursor, opens)
            if begin < closes:
                if begin + remaining <= closes:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError("no business hours within ten years: check sla.business_days/holidays")


def rule_matches(rule: SlaRule, urgency: int, signals: Sequence[str]) -> bool:
    """A rule applies when the review has one of its signals or reaches its urgency."""
    if rule.signals and set(rule.signals) & set(signals):
        return True
    return rule.min_urgency is not None and urgency >= rule.min_urgency


def rule_deadline(rule: SlaRule, received: datetime, calendar: BusinessCalendar) -> datetime:
    if rule.business_hours is not None:
        return add_business_hours(received, rule.business_hours, calendar)
    if rule.hours is not None:
        return _aware(received).astimezone(UTC) + timedelta(hours=rule.hours)
    assert rule.respond_by_hour is not None  # the config validator guarantees one deadline
    return next_business_day_at(received, rule.respond_by_hour, calendar)


def due_at(
    received: datetime,
    sla: SlaConfig,
    *,
    timezone: str = "UTC",
    location_key: str | None = None,
    urgency: int = 0,
    signals: Sequence[str] = (),
) -> tuple[datetime, str]:
    """The response deadline (UTC) and the name of the rule that set it (``default`` if none).

    When several rules match, the earliest deadline wins: a rule can only tighten the promise.
    """
    calendar = BusinessCalendar.from_config(sla, timezone, location_key)
    matching = [r for r in sla.rules if rule_matches(r, urgency, signals)]
    if not matching:
        return next_business_day_at(received, sla.respond_by_hour, calendar), "default"
    return min((rule_deadline(r, received, calendar), r.name) for r in matching)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: SLA arithmetic needs aware times")
    return value
