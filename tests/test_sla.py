"""SLA deadlines across weekends, holidays, timezones and DST changes (pure functions, no DB)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from pipeline.config import Settings, SlaConfig
from pipeline.sla import BusinessCalendar, add_business_hours, due_at, next_business_day_at

WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due(received: datetime, tz: str = "Europe/Warsaw", **sla: object) -> datetime:
    return due_at(received, SlaConfig(**sla), timezone=tz)[0]


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (local(WARSAW, 2026, 11, 20, 15, 0), local(WARSAW, 2026, 11, 23, 10, 0)),  # Fri -> Mon
        (local(WARSAW, 2026, 11, 21, 12, 0), local(WARSAW, 2026, 11, 23, 10, 0)),  # Sat -> Mon
        (local(WARSAW, 2026, 11, 22, 23, 59), local(WARSAW, 2026, 11, 23, 10, 0)),  # Sun -> Mon
        (local(WARSAW, 2026, 11, 23, 8, 0), local(WARSAW, 2026, 11, 24, 10, 0)),  # Mon -> Tue
        (local(WARSAW, 2026, 11, 23, 0, 0), local(WARSAW, 2026, 11, 24, 10, 0)),  # midnight
        (local(WARSAW, 2026, 11, 26, 23, 30), local(WARSAW, 2026, 11, 27, 10, 0)),  # Thu -> Fri
    ],
)
def test_next_business_day_at_ten(received: datetime, expected: datetime) -> None:
    assert due(received) == expected
    assert due(received).tzinfo is UTC


def test_holidays_are_skipped_including_runs_of_them() -> None:
    christmas = [date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 28)]
    # Wed 23 Dec: Thu 24, Fri 25 holidays, weekend, Mon 28 holiday -> Tue 29 Dec
    received = local(WARSAW, 2026, 12, 23, 16, 0)
    assert due(received, holidays=christmas) == local(WARSAW, 2026, 12, 29, 10, 0)
    assert due(received) == local(WARSAW, 2026, 12, 24, 10, 0)
    # a review that arrives on the holiday itself is due the next business day
    assert due(local(WARSAW, 2026, 12, 25, 9), holidays=christmas) == local(
        WARSAW, 2026, 12, 29, 10, 0
    )


def test_location_holidays_apply_to_that_location_only() -> None:
    sla = SlaConfig(location_holidays={"kyiv": [date(2026, 11, 24)]})
    received = utc(2026, 11, 23, 12, 0)
    assert due_at(received, sla, location_key="kyiv")[0] == utc(2026, 11, 25, 10, 0)
    assert due_at(received, sla, location_key="main")[0] == utc(2026, 11, 24, 10, 0)


def test_custom_business_days_and_hour() -> None:
    # a shop open Tuesday..Saturday, answering by 14:00
    received = local(WARSAW, 2026, 11, 21, 11, 0)  # Saturday
    assert due(received, business_days=[1, 2, 3, 4, 5], respond_by_hour=14) == local(
        WARSAW, 2026, 11, 24, 14, 0
    )


def test_the_local_day_decides_not_the_utc_day() -> None:
    instant = utc(2026, 11, 23, 23, 30)  # Monday in UTC
    # Tokyo: already Tuesday 08:30 -> Wednesday 10:00 JST
    assert due(instant, "Asia/Tokyo") == utc(2026, 11, 25, 1, 0)
    # New York: Monday 18:30 -> Tuesday 10:00 EST
    assert due(instant, "America/New_York") == utc(2026, 11, 24, 15, 0)
    # Friday 23:30 UTC is Saturday in Tokyo, still Friday in New York: both due Monday
    friday = utc(2026, 11, 27, 23, 30)
    assert due(friday, "Asia/Tokyo") == utc(2026, 11, 30, 1, 0)
    assert due(friday, "America/New_York") == utc(2026, 11, 30, 15, 0)
    # Kolkata's half-hour offset
    assert due(utc(2026, 11, 23, 12), "Asia/Kolkata") == utc(2026, 11, 24, 4, 30)


def test_dst_spring_forward_keeps_ten_o_clock_local() -> None:
    # Europe switches on Sunday 29 March 2026: Friday's review is due Monday 10:00 CEST
    friday = local(WARSAW, 2026, 3, 27, 12, 0)
    assert due(friday) == utc(2026, 3, 30, 8, 0)
    assert due(friday).astimezone(WARSAW).time() == time(10, 0)
    # the US switches on 8 March 2026
    assert due(local(NEW_YORK, 2026, 3, 6, 12), "America/New_York") == utc(2026, 3, 9, 14, 0)


def test_dst_fall_back_keeps_ten_o_clock_local() -> None:
    friday = local(WARSAW, 2026, 10, 23, 12, 0)  # Europe falls back on Sunday 25 October
    assert due(friday) == utc(2026, 10, 26, 9, 0)
    assert due(local(NEW_YORK, 2026, 10, 30, 12), "America/New_York") == utc(2026, 11, 2, 15, 0)


def test_deadline_inside_the_dst_gap_or_overlap() -> None:
    every_day = list(range(7))
    # 02:00 does not exist in Warsaw on 29 March: moved forward by the gap (03:00 CEST)
    saturday = local(WARSAW, 2026, 3, 28, 12, 0)
    assert due(saturday, business_days=every_day, respond_by_hour=2) == utc(2026, 3, 29, 1, 0)
    # 02:00 happens twice on 25 October: the first one (still CEST, 00:00 UTC)
    saturday = local(WARSAW, 2026, 10, 24, 12, 0)
    assert due(saturday, business_days=every_day, respond_by_hour=2) == utc(2026, 10, 25, 0, 0)


def calendar(tz: ZoneInfo = WARSAW, **kw: object) -> BusinessCalendar:
    return BusinessCalendar(tz=tz, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("received", "hours", "expected"),
    [
        (local(WARSAW, 2026, 11, 23, 7, 0), 2, local(WARSAW, 2026, 11, 23, 11, 0)),  # before open
        (local(WARSAW, 2026, 11, 23, 12, 15), 2, local(WARSAW, 2026, 11, 23, 14, 15)),
        (local(WARSAW, 2026, 11, 23, 17, 0), 2, local(WARSAW, 2026, 11, 24, 10, 0)),  # overnight
        (local(WARSAW, 2026, 11, 23, 16, 0), 2, local(WARSAW, 2026, 11, 23, 18, 0)),  # at close
        (local(WARSAW, 2026, 11, 23, 19, 0), 2, local(WARSAW, 2026, 11, 24, 11, 0)),  # after close
        (local(WARSAW, 2026, 11, 20, 17, 30), 2, local(WARSAW, 2026, 11, 23, 10, 30)),  # weekend
        (local(WARSAW, 2026, 11, 21, 10, 0), 2, local(WARSAW, 2026, 11, 23, 11, 0)),  # Saturday
        (local(WARSAW, 2026, 11, 23, 9, 0), 12, local(WARSAW, 2026, 11, 24, 12, 0)),  # > a day
        (local(WARSAW, 2026, 11, 23, 9, 0), 0.5, local(WARSAW, 2026, 11, 23, 9, 30)),
    ],
)
def test_business_hours(received: datetime, hours: float, expected: datetime) -> None:
    assert add_business_hours(received, hours, calendar()) == expected


def test_business_hours_skip_holidays_and_cross_dst_weekend() -> None:
    cal = calendar(holidays=frozenset({date(2026, 3, 30)}))
    friday_late = local(WARSAW, 2026, 3, 27, 17, 0)  # CET; Monday is a holiday, Tuesday is CEST
    assert add_business_hours(friday_late, 2, cal) == local(WARSAW, 2026, 3, 31, 10, 0)
    assert add_business_hours(friday_late, 2, cal) == utc(2026, 3, 31, 8, 0)


def test_business_hours_count_elapsed_time_on_a_dst_day() -> None:
    # open round the clock every day: the spring-forward night is one real hour shorter
    cal = calendar(business_days=frozenset(range(7)), opens=time(0, 0), closes=time(23, 59))
    start = local(WARSAW, 2026, 3, 29, 0, 0)
    # (aware + timedelta in one zone is wall-clock arithmetic in Python; elapsed is via UTC)
    assert add_business_hours(start, 5, cal) == start.astimezone(UTC) + timedelta(hours=5)
    assert add_business_hours(start, 5, cal).astimezone(WARSAW).hour == 6  # 02:00 was skipped
    autumn = local(WARSAW, 2026, 10, 25, 0, 0)
    assert add_business_hours(autumn, 5, cal).astimezone(WARSAW).hour == 4  # 02:00 twice


def test_urgency_rules_earliest_deadline_wins() -> None:
    sla = SlaConfig(
        rules=[
            {"name": "health", "signals": ["health", "safety"], "business_hours": 2},
            {"name": "urgent", "min_urgency": 80, "hours": 4},
            {"name": "legal", "signals": ["legal"], "respond_by_hour": 9},
        ]
    )
    friday = local(WARSAW, 2026, 11, 20, 17, 30)
    kw = {"timezone": "Europe/Warsaw"}
    assert due_at(friday, sla, **kw, urgency=10) == (local(WARSAW, 2026, 11, 23, 10), "default")
    assert due_at(friday, sla, **kw, signals=["health"]) == (
        local(WARSAW, 2026, 11, 23, 10, 30),
        "health",
    )
    # 4 clock hours (24/7) beat 2 business hours over a weekend
    assert due_at(friday, sla, **kw, signals=["safety"], urgency=90) == (
        friday + timedelta(hours=4),
        "urgent",
    )
    assert due_at(friday, sla, **kw, urgency=80) == (friday + timedelta(hours=4), "urgent")
    assert due_at(friday, sla, **kw, signals=["legal"]) == (local(WARSAW, 2026, 11, 23, 9), "legal")
    assert due_at(friday, sla, **kw, signals=["media"])[1] == "default"


def test_every_deadline_lands_on_a_business_day_at_ten_local() -> None:
    holidays = [date(2026, 1, 1), date(2026, 5, 1), date(2026, 12, 25)]
    sla = SlaConfig(holidays=holidays)
    for zone in ("Europe/Warsaw", "America/New_York", "Australia/Sydney"):
        tz = ZoneInfo(zone)
        received = utc(2026, 1, 1, 0, 0)
        while received.year == 2026:
            deadline, _ = due_at(received, sla, timezone=zone)
            wall = deadline.astimezone(tz)
            assert wall.time() == time(10, 0)
            assert wall.weekday() < 5 and wall.date() not in holidays
            assert wall.date() > received.astimezone(tz).date()
            assert deadline - received < timedelta(days=5)
            received += timedelta(hours=7, minutes=13)


def test_bad_sla_config_fails_naming_the_field() -> None:
    cases = {
        "sla.business_days": {"business_days": []},
        "sla.respond_by_hour": {"respond_by_hour": 24},
        "sla.holidays.0": {"holidays": ["2026-02-30"]},
        "sla.rules.0": {
            "rules": [{"name": "x", "signals": ["health"], "hours": 2, "business_hours": 1}]
        },
    }
    for field, sla in cases.items():
        with pytest.raises(ValidationError) as info:
            Settings(sla=sla)
        assert field in str(info.value), (field, str(info.value))
    with pytest.raises(ValidationError, match="closes"):
        Settings(sla={"opens": "18:00", "closes": "09:00"})
    with pytest.raises(ValidationError, match="signals"):
        Settings(sla={"rules": [{"name": "x", "hours": 2}]})


def test_bad_calls_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_business_day_at(datetime(2026, 11, 23, 9), 10, calendar())
    never = calendar(business_days=frozenset())
    with pytest.raises(ValueError, match="no business day"):
        next_business_day_at(utc(2026, 11, 23), 10, never)
    with pytest.raises(ValueError, match="no business hours"):
        add_business_hours(utc(2026, 11, 23), 2, never)
