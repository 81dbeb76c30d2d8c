"""Shared pieces of the read side: the filter a person sets and the WHERE clauses it makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Select,
    Text,
    case,
    cast,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from pipeline.models import Location, Review, Sentiment, Triage

AWAITING = ("new", "in_progress")
Granularity = Literal["day", "week", "month"]
GroupBy = Literal["location", "platform"]

effective_label = func.coalesce(Sentiment.corrected_label, Sentiment.label)


@dataclass(frozen=True)
class Filters:
    """What a person narrowed the view to; empty tuples mean "any". Frozen, so it can be a cache
    key. ``statuses`` empty means "awaiting a response" in the inbox and "any" in trends."""

    locations: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    assignees: tuple[str, ...] = field(default=(), metadata={"doc": '"" selects unassigned'})
    min_rating: float | None = None
    max_rating: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    include_competitors: bool = False


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet ``condition`` (0, never NULL, for an empty group)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- filters ---------------------------------------------------------------------------------


def competitor_keys() -> Select[Any]:
    return select(Location.key).where(Location.is_competitor.is_(True))


def no_index(column: Any) -> ColumnElement[Any]:
    """SQLite's unary ``+``: the same value, but the planner may not drive the query from an
    index on ``column``. SQLite keeps no value histograms, so it cannot tell that the open
    items are a small slice of ``triage`` and would start from a location's or platform's
    reviews (83k rows at 1M) instead of the open items (thousands): 4x slower."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def conditions(filters: Filters, *, sqlite_queue: bool = False) -> list[ColumnElement[bool]]:
    """WHERE clauses shared by the inbox and the trends (status handled by the caller).
    ``sqlite_queue``: the query starts from the open triage items (see :func:`no_index`)."""
    where: list[ColumnElement[bool]] = []
    location = no_index(Review.location_key) if sqlite_queue else Review.location_key
    platform = no_index(Review.platform) if sqlite_queue else Review.platform
    published = no_index(Review.published_at) if sqlite_queue else Review.published_at
    if filters.locations:
        where.append(location.in_(filters.locations))
    elif not filters.include_competitors:
        where.append(or_(location.is_(None), location.not_in(competitor_keys())))
    if filters.platforms:
        where.append(platform.in_(filters.platforms))
    if filters.languages:
        where.append(Review.language.in_(filters.languages))
    if filters.labels:
        where.append(effective_label.in_(filters.labels))
    if filters.aspects:
        text = cast(Sentiment.aspects, Text)
        where.append(or_(*(text.like(f'%"{aspect}"%') for aspect in filters.aspects)))
    if filters.assignees:
        where.append(_assignee_condition(filters.assignees))
    if filters.min_rating is not None:
        where.append(Review.rating >= filters.min_rating)
    if filters.max_rating is not None:
        where.append(Review.rating <= filters.max_rating)
    if filters.since is not None:
        where.append(published >= filters.since)
    if filters.until is not None:
        where.append(published < filters.until)
    if filters.search:
        pattern = f"%{_escape_like(filters.search.lower())}%"
        where.append(func.lower(Review.text).like(pattern, escape="\\"))
    return where


def _assignee_condition(assignees: tuple[str, ...]) -> ColumnElement[bool]:
    named = [a for a in assignees if a]
    parts = [Triage.assignee.in_(named)] if named else []
    if "" in assignees:
        parts.append(Triage.assignee.is_(None))
    return or_(*parts) if parts else false()


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def as_utc(day: date) -> datetime:
    """Midnight UTC of ``day``: how the dashboard turns date pickers into filter bounds."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
