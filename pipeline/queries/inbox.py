"""The inbox: items awaiting a response, overdue first, then by urgency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    func,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.insight_models import IncidentMember
from pipeline.models import Location, Review, Sentiment, Triage, utcnow
from pipeline.queries.filters import AWAITING, Filters, conditions, count_if, dialect


@dataclass(frozen=True)
class InboxItem:
    """One review with everything a responder needs to act on it."""

    review_id: int
    platform: str
    kind: str
    location_key: str | None
    location_name: str | None
    url: str
    author: str | None
    rating: float | None
    title: str | None
    text: str
    language: str | None
    published_at: datetime
    reply_text: str | None
    label: str | None
    model_label: str | None
    corrected_label: str | None
    score: float | None
    aspects: list[str]
    signals: list[str]
    urgency: int | None
    status: str
    assignee: str | None
    due_at: datetime | None
    responded_at: datetime | None
    notes: str | None
    overdue: bool
    response_text: str | None = None  # what we answered: posted, or pasted when marked
    needs_check: bool = False  # queued because the model was unsure, not because negative
    incident_id: int | None = None  # one of several reviews about the same thing


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    total: int
    overdue: int


@dataclass(frozen=True)
class FilterOptions:
    """The values the filter widgets offer, read from the data."""

    locations: list[tuple[str, str, bool]]  # key, name, is_competitor
    platforms: list[str]
    languages: list[str]
    assignees: list[str]


# --- inbox -----------------------------------------------------------------------------------


def inbox(
    session: Session,
    filters: Filters = Filters(),
    *,
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> InboxPage:
    """Reviews awaiting a response: overdue first, then the most urgent, then the soonest due.

    Only reviews with a triage row are in the queue (triage decides what needs a human).
    """
    now = now or utcnow()
    overdue = _overdue(now)
    queue = dialect(session) == "sqlite"
    where = [
        Triage.status.in_(filters.statuses or AWAITING),
        *conditions(filters, sqlite_queue=queue),
    ]
    matching = (
        select(count_if(overdue).label("late"), func.count().label("total"))
        .select_from(Review)
        .join(Triage, Triage.review_id == Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .where(*where)
    )
    overdue_count, total = session.execute(matching).one()
    order = (
        case((overdue, 0), else_=1),
        func.coalesce(Sentiment.urgency, -1).desc(),
        Triage.due_at.asc().nulls_last(),
        Review.published_at.desc(),
        Review.id.desc(),
    )
    query = _item_query(now).where(*where).order_by(*order).limit(limit).offset(offset)
    items = [_item(row) for row in session.execute(query)]
    return InboxPage(items=items, total=int(total), overdue=int(overdue_count))


def inbox_item(
    session: Session, review_id: int, *, now: datetime | None = None
) -> InboxItem | None:
    """One review as the inbox shows it, whatever its status (for the detail view)."""
    row = session.execute(_item_query(now or utcnow()).where(Review.id == review_id)).first()
    return _item(row) if row else None


def _overdue(now: datetime) -> ColumnElement[bool]:
    """Past its due time and still awaiting a response."""
    return and_(Triage.status.in_(AWAITING), Triage.due_at.is_not(None), Triage.due_at < now)


def _item_query(now: datetime) -> Select[Any]:
    overdue = _overdue(now)
    return (
        select(
            Review,
            Location.name.label("location_name"),
            Sentiment.label.label("model_label"),
            Sentiment.corrected_label,
            Sentiment.score,
            Sentiment.aspects,
            Sentiment.signals,
            Sentiment.urgency,
            Triage.status,
            Triage.assignee,
            Triage.due_at,
            Triage.responded_at,
            Triage.notes,
            Triage.response_text,
            overdue.label("overdue"),
            Sentiment.needs_check,
            IncidentMember.incident_id,
        )
        .join(Triage, Triage.review_id == Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Location, Location.key == Review.location_key)
        .outerjoin(IncidentMember, IncidentMember.review_id == Review.id)
    )


def _item(row: Any) -> InboxItem:
    review: Review = row.Review
    return InboxItem(
        review_id=review.id,
        platform=review.platform,
        kind=review.kind,
        location_key=review.location_key,
        location_name=row.location_name,
        url=review.url,
        author=review.author,
        rating=review.rating,
        title=review.title,
        text=review.text,
        language=review.language,
        published_at=review.published_at,
        reply_text=review.reply_text,
        label=row.corrected_label or row.model_label,
        model_label=row.model_label,
        corrected_label=row.corrected_label,
        score=row.score,
        aspects=list(row.aspects or []),
        signals=list(row.signals or []),
        urgency=row.urgency,
        status=row.status,
        assignee=row.assignee,
        due_at=row.due_at,
        responded_at=row.responded_at,
        notes=row.notes,
        overdue=bool(row.overdue),
        response_text=row.response_text,
        needs_check=bool(row.needs_check),
        incident_id=row.incident_id,
    )


def filter_options(session: Session) -> FilterOptions:
    """Distinct values for the filter widgets (cache this: it scans indexes)."""
    known = {loc.key: loc for loc in session.scalars(select(Location).order_by(Location.name))}
    keys = session.scalars(
        select(Review.location_key).distinct().where(Review.location_key.is_not(None))
    )
    locations = [(k, loc.name, loc.is_competitor) for k, loc in known.items()]
    locations += [(k, k, False) for k in sorted(set(keys) - known.keys())]

    def distinct(column: Any) -> list[str]:
        return sorted(v for v in session.scalars(select(column).distinct()) if v)

    return FilterOptions(
        locations=locations,
        platforms=distinct(Review.platform),
        languages=distinct(Review.language),
        assignees=distinct(Triage.assignee),
    )
