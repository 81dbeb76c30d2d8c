"""The response queue: which reviews need an answer, who has them, by when, and what happened.

Every negative or mixed review of an own location (competitors are watched, not answered) gets
a ``triage`` row with status ``new`` and a deadline from the SLA rules; so does one whose text
the model is unsure about (``sentiment.needs_check``: the uncertain band that keeps negative
recall at 95 %), which the inbox flags "check". Every change is written
to ``triage_events`` (who, when, field, old, new): the audit trail a support lead asks for.
Functions take the caller's session and never commit; the entry point owns the transaction.

Errors: ``TriageError`` (a ValueError: bad status, empty actor or note), ``UnknownReview`` (a
LookupError: no such review id).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pipeline.config import Settings
from pipeline.models import TRIAGE_STATUSES, Location, Review, Sentiment, Triage, TriageEvent
from pipeline.sla import due_at

OPEN_STATUSES = ("new", "in_progress")
PLATFORM_ACTOR = "platform"
SLA_ACTOR = "sla"


class TriageError(ValueError):
    """A change the queue refuses: an unknown status, a blank actor or note."""


class UnknownReview(LookupError):
    """No review with that id."""


def mark_responded(
    session: Session, review_id: int, at: datetime, actor: str, text: str | None = None
) -> bool:
    """Record that the review was answered at ``at`` (seen on the platform or posted through
    revmon), and with ``text`` when known (what was posted, or pasted by the person who
    answered on the site). The first answer's time is kept: a later one does not move
    ``responded_at``. Returns whether anything changed (nothing changed: no event)."""
    text = (text or "").strip() or None
    triage = _get_or_create(session, review_id, actor, at)
    changed = False
    if not (triage.status == "responded" and triage.responded_at is not None):
        _change(triage, actor, at, "status", triage.status, "responded")
        triage.status = "responded"
        _change(triage, actor, at, "responded_at", None, at.astimezone(UTC).isoformat())
        triage.responded_at = at
        changed = True
    if text is not None and text != triage.response_text:
        _change(triage, actor, at, "response_text", triage.response_text, text)
        triage.response_text = text
        changed = True
    return changed


def set_status(
    session: Session, review_id: int, status: str, actor: str, *, now: datetime | None = None
) -> bool:
    """Move the review to ``status``; ``responded`` stamps the time, leaving it clears it.
    Returns whether anything changed (the same status again writes no event)."""
    if status not in TRIAGE_STATUSES:
        raise TriageError(f"unknown status {status!r}; one of {', '.join(TRIAGE_STATUSES)}")
    now = now or datetime.now(UTC)
    if status == "responded":
        return mark_responded(session, review_id, now, actor)
    triage = _get_or_create(session, review_id, actor, now)
    if triage.status == status:
        return False
    _change(triage, actor, now, "status", triage.status, status)
    triage.status = status
    if triage.responded_at is not None:
        _change(triage, actor, now, "responded_at", triage.responded_at.isoformat(), None)
        triage.responded_at = None
    return True


def assign(
    session: Session,
    review_id: int,
    assignee: str | None,
    actor: str,
    *,
    now: datetime | None = None,
) -> bool:
    """Give the review to ``assignee`` (``None`` or blank: unassign); whether it changed."""
    now = now or datetime.now(UTC)
    assignee = (assignee or "").strip() or None
    triage = _get_or_create(session, review_id, actor, now)
    if triage.assignee == assignee:
        return False
    _change(triage, actor, now, "assignee", triage.assignee, assignee)
    triage.assignee = assignee
    return True


def add_note(
    session: Session, review_id: int, note: str, actor: str, *, now: datetime | None = None
) -> None:
    """Append an internal note; each note is an event, and ``triage.notes`` keeps them all as
    ``[time actor] text`` lines for the export."""
    note = note.strip()
    if not note:
        raise TriageError("a note cannot be empty")
    now = now or datetime.now(UTC)
    triage = _get_or_create(session, review_id, actor, now)
    _change(triage, actor, now, "note", None, note)
    line = f"[{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC {actor.strip()}] {note}"
    triage.notes = f"{triage.notes}\n{line}" if triage.notes else line


def enqueue_new(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Queue every negative or mixed scored review that has no triage row yet, with its SLA
    deadline counted from when revmon first saw it; then mark responded the open items whose
    reply showed up on the platform. Returns how many were queued."""
    now = now or datetime.now(UTC)
    zones = {loc.key: loc.timezone for loc in settings.locations}
    queued = 0
    for review, sentiment, timezone in session.execute(_unqueued_query()):
        received = min(review.first_seen, now)
        due, _rule = due_at(
            received,
            settings.sla,
            timezone=timezone or zones.get(review.location_key or "", "UTC"),
            location_key=review.location_key,
            urgency=sentiment.urgency,
            signals=sentiment.signals or [],
        )
        triage = Triage(review_id=review.id, status="new", due_at=due, created_at=now)
        session.add(triage)
        _change(triage, SLA_ACTOR, now, "status", None, "new")
        queued += 1
    session.flush()
    sync_platform_replies(session, now)
    return queued


def sync_platform_replies(session: Session, now: datetime | None = None) -> int:
    """Mark responded every open item whose business reply is now visible on the platform."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(Review.id, Review.reply_at)
        .join(Triage, Triage.review_id == Review.id)
        .where(Triage.status.in_(OPEN_STATUSES))
        .where(or_(Review.reply_text.is_not(None), Review.reply_at.is_not(None)))
    ).all()
    for review_id, reply_at in rows:
        mark_responded(session, review_id, reply_at or now, PLATFORM_ACTOR)
    session.flush()
    return len(rows)


def escalate_overdue(session: Session, now: datetime | None = None) -> int:
    """Stamp ``escalated_at`` on open items past their deadline (once each); alert rules with
    ``overdue = true`` then notify. Returns how many were escalated now."""
    now = now or datetime.now(UTC)
    overdue = session.scalars(
        select(Triage)
        .where(Triage.status.in_(OPEN_STATUSES))
        .where(Triage.due_at < now, Triage.escalated_at.is_(None))
    ).all()
    for triage in overdue:
        _change(triage, SLA_ACTOR, now, "escalated_at", None, now.astimezone(UTC).isoformat())
        triage.escalated_at = now
    session.flush()
    return len(overdue)


def is_negative_or_mixed():  # type: ignore[no-untyped-def]
    """SQL condition: the human correction wins; otherwise the model's label or its mixed flag."""
    label = func.coalesce(Sentiment.corrected_label, Sentiment.label)
    return or_(
        label == "negative", and_(Sentiment.mixed.is_(True), Sentiment.corrected_label.is_(None))
    )


def needs_a_person():  # type: ignore[no-untyped-def]
    """SQL condition for the queue: negative or mixed, or uncertain enough to check (a person's
    correction settles it)."""
    uncertain = and_(Sentiment.needs_check.is_(True), Sentiment.corrected_label.is_(None))
    return or_(is_negative_or_mixed(), uncertain)


def _unqueued_query():  # type: ignore[no-untyped-def]
    return (
        select(Review, Sentiment, Location.timezone)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Triage, Triage.review_id == Review.id)
        .outerjoin(Location, Location.key == Review.location_key)
        .where(Triage.review_id.is_(None), needs_a_person())
        .where(or_(Location.id.is_(None), Location.is_competitor.is_(False)))
        .order_by(Review.id)
    )


def _get_or_create(session: Session, review_id: int, actor: str, now: datetime) -> Triage:
    if not actor or not actor.strip():
        raise TriageError("every triage change needs an actor (who made it)")
    triage = session.get(Triage, review_id)
    if triage is not None:
        return triage
    if session.get(Review, review_id) is None:
        raise UnknownReview(f"no review with id {review_id}")
    triage = Triage(review_id=review_id, status="new", created_at=now)
    session.add(triage)
    _change(triage, actor, now, "status", None, "new")
    session.flush()
    return triage


def _change(
    triage: Triage, actor: str, at: datetime, field: str, old: str | None, new: str | None
) -> None:
    triage.events.append(
        TriageEvent(at=at, actor=actor.strip(), field=field, old_value=old, new_value=new)
    )
