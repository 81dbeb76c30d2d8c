"""Trend figures from the daily rollups: the same numbers as the raw-table queries in
``pipeline.queries.trends``, read from a few thousand summed rows.

Only filters the rollups are keyed by can be answered here: locations, platforms, whole UTC
days and competitors; :func:`answerable` says so, and the callers fall back to the raw tables
otherwise (a language or text search, say), or when the session says
``session.info["trends_source"] == "raw"`` (``REVMON_TRENDS_SOURCE=raw``: to check the rollups
against the raw tables, or to time the difference). Medians of response time come from the rollup's
histogram, interpolated inside the bucket that holds the middle answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.insight_models import (
    RESPONSE_BUCKETS_H,
    RESPONSE_COLUMNS,
    AspectRollup,
    DailyRollup,
)
from pipeline.queries.expressions import rollups_ready
from pipeline.queries.filters import Filters, Granularity, competitor_keys, dialect

SUMMED = (
    "reviews", "rated", "rating_sum", "scored", "negative", "neutral", "positive", "mixed",
    "checked", "promoters", "passives", "detractors", "sci_satisfied", "sci_return",
    "sci_recommend", "sci_secure", "responded", "response_n", "replied_negative", "recovered",
    *RESPONSE_COLUMNS,
)  # fmt: skip


def answerable(session: Session, filters: Filters) -> bool:
    """Whether the rollups hold the answer for these filters (and have been built)."""
    if session.info.get("trends_source") == "raw":
        return False
    narrowing = (filters.languages, filters.labels, filters.aspects, filters.statuses,
                 filters.assignees, filters.search)  # fmt: skip
    if any(narrowing) or filters.min_rating is not None or filters.max_rating is not None:
        return False
    if not all(_whole_day(b) for b in (filters.since, filters.until)):
        return False
    return rollups_ready(session)


def _whole_day(bound: datetime | None) -> bool:
    if bound is None:
        return True
    return bound.utcoffset() is not None and bound.timetz().replace(tzinfo=None) == time(0)


def where(table: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """The filters as conditions on a rollup table (``''`` is the no-location key)."""
    conditions: list[ColumnElement[bool]] = []
    location = table.location_key
    if filters.locations:
        conditions.append(location.in_(filters.locations))
    elif not filters.include_competitors:
        conditions.append(or_(location == "", location.not_in(competitor_keys())))
    if filters.platforms:
        conditions.append(table.platform.in_(filters.platforms))
    if filters.since is not None:
        conditions.append(table.day >= _day(filters.since))
    if filters.until is not None:
        conditions.append(table.day < _day(filters.until))
    return conditions


def _day(bound: datetime) -> date:
    return bound.date()


def period_of(session: Session, column: Any, granularity: Granularity) -> ColumnElement[str]:
    """The period's first day as 'YYYY-MM-DD' text, from a DATE column."""
    if granularity not in ("day", "week", "month"):
        raise ValueError(f"granularity must be day, week or month, not {granularity!r}")
    if dialect(session) == "postgresql":
        return func.to_char(func.date_trunc(granularity, column), "YYYY-MM-DD")
    if granularity == "day":
        return func.strftime("%Y-%m-%d", column)
    if granularity == "week":
        return func.date(column, "-6 days", "weekday 1")
    return func.strftime("%Y-%m-01", column)


def summed(
    session: Session, filters: Filters, group: ColumnElement[Any] | None
) -> list[dict[str, Any]]:
    """Sums of every rollup column per group (or one ``'all'`` group), oldest key first."""
    key = literal_column("'all'") if group is None else group
    sums = [func.coalesce(func.sum(getattr(DailyRollup, name)), 0).label(name) for name in SUMMED]
    query = select(key.label("key"), *sums).where(*where(DailyRollup, filters))
    if group is not None:
        query = query.group_by(group).order_by(group)
    rows = [dict(row) for row in session.execute(query).mappings()]
    return [_numbers(row) for row in rows if row["reviews"]]


def _numbers(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name == "key" or value is None:
            out[name] = value
        elif name == "rating_sum":
            out[name] = float(value)
        else:
            out[name] = int(value)
    return out


def median_hours(counts: Sequence[int]) -> float | None:
    """The median of a response-time histogram (counts per RESPONSE_BUCKETS_H bucket): the
    mean of the two middle ranks, as the raw median is, each placed inside its bucket as if
    the bucket's answers were spread evenly; the open last bucket gives its lower bound."""
    total = sum(counts)
    if not total:
        return None
    bounds = [0.0, *RESPONSE_BUCKETS_H]

    def at_rank(rank: int) -> float:
        before = 0
        for i, count in enumerate(counts):
            if rank < before + count:
                if i + 1 >= len(bounds):
                    return bounds[i]
                low, high = bounds[i], bounds[i + 1]
                return low + (high - low) * (rank - before + 0.5) / count
            before += count
        return bounds[-1]

    return (at_rank((total - 1) // 2) + at_rank(total // 2)) / 2.0


def histogram(row: dict[str, Any]) -> list[int]:
    return [int(row[name]) for name in RESPONSE_COLUMNS]


def aspect_rows(
    session: Session, filters: Filters, period: ColumnElement[Any] | None
) -> list[tuple[Any, str, int, int, int, int]]:
    """(period or 'all', aspect, mentions, negative, praised, criticised), ordered."""
    key = literal_column("'all'") if period is None else period
    query = (
        select(
            key,
            AspectRollup.aspect,
            func.sum(AspectRollup.mentions),
            func.sum(AspectRollup.negative),
            func.sum(AspectRollup.praised),
            func.sum(AspectRollup.criticised),
        )
        .where(*where(AspectRollup, filters))
        .group_by(key, AspectRollup.aspect)
        .order_by(key, AspectRollup.aspect)
    )
    return [
        (p, str(a), int(m or 0), int(n or 0), int(pr or 0), int(cr or 0))
        for p, a, m, n, pr, cr in session.execute(query)
    ]
