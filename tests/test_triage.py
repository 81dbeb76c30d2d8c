"""The response queue on SQLite and PostgreSQL: what gets queued, deadlines, history, replies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.config import Settings
from pipeline.models import Triage, TriageEvent
from pipeline.triage import (
    TriageError,
    UnknownReview,
    add_note,
    assign,
    enqueue_new,
    escalate_overdue,
    mark_responded,
    set_status,
)
from tests.seeding import location, review

MON_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday
NOW = MON_9 + timedelta(hours=1)


def settings(**sla: object) -> Settings:
    return Settings(
        locations=[{"key": "main", "name": "Main", "timezone": "Europe/Warsaw"}],
        sla=sla or {},
    )


def events(session: Session, review_id: int) -> list[tuple[str, str, str | None, str | None]]:
    rows = session.scalars(
        select(TriageEvent).where(TriageEvent.review_id == review_id).order_by(TriageEvent.id)
    )
    return [(e.actor, e.field, e.old_value, e.new_value) for e in rows]


def test_enqueue_takes_negative_and_mixed_only(session: Session) -> None:
    location(session, "main", "Europe/Warsaw")
    location(session, "rival", "Europe/Warsaw", is_competitor=True)
    negative = review(session, seen=MON_9)
    mixed = review(session, label="positive", mixed=True, seen=MON_9)
    review(session, label="positive", seen=MON_9)
    review(session, label="neutral", seen=MON_9)
    review(session, label=None, seen=MON_9)  # not scored yet
    review(session, label="negative", location_key="rival", seen=MON_9)  # competitor
    corrected_away = review(session, label="negative", corrected="neutral", seen=MON_9)
    corrected_in = review(session, label="positive", corrected="negative", seen=MON_9)
    mixed_but_corrected = review(session, label="neutral", mixed=True, corrected="positive")

    assert enqueue_new(session, settings(), now=NOW) == 3
    queued = {t.review_id: t for t in session.scalars(select(Triage))}
    assert set(queued) == {negative.id, mixed.id, corrected_in.id}
    assert corrected_away.id not in queued and mixed_but_corrected.id not in queued
    item = queued[negative.id]
    assert item.status == "new"
    assert item.assignee is None and item.responded_at is None and item.escalated_at is None
    # seen Monday 10:00 Warsaw time -> due Tuesday 10:00 Warsaw (09:00 UTC in winter)
    assert item.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert events(session, negative.id) == [("sla", "status", None, "new")]
    assert enqueue_new(session, settings(), now=NOW) == 0  # idempotent


def test_enqueue_uses_location_timezone_and_urgency_rules(session: Session) -> None:
    location(session, "main", "America/New_York")
    calm = review(session, seen=MON_9)
    poisoned = review(session, seen=MON_9, signals=["health"], urgency=90)
    rules = [{"name": "health", "signals": ["health", "safety"], "business_hours": 2}]
    assert enqueue_new(session, settings(rules=rules), now=NOW) == 2
    # 09:00 UTC Monday is 04:00 in New York: due Tuesday 10:00 EST == 15:00 UTC
    assert session.get(Triage, calm.id).due_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    # 2 business hours from the 09:00 opening in New York -> 11:00 EST == 16:00 UTC Monday
    assert session.get(Triage, poisoned.id).due_at == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_enqueue_skips_holidays_and_unknown_location_is_utc(session: Session) -> None:
    review(session, seen=MON_9, location_key=None)
    assert enqueue_new(session, settings(holidays=[date(2026, 11, 24)]), now=NOW) == 1
    item = session.scalars(select(Triage)).one()
    assert item.due_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_platform_reply_marks_responded(session: Session) -> None:
    location(session, "main", "Europe/Warsaw")
    replied_at = MON_9 + timedelta(minutes=30)
    answered = review(session, seen=MON_9, reply_text="Sorry!", reply_at=replied_at)
    open_item = review(session, seen=MON_9)
    assert enqueue_new(session, settings(), now=NOW) == 2
    item = session.get(Triage, answered.id)
    assert (item.status, item.responded_at) == ("responded", replied_at)
    assert events(session, answered.id) == [
        ("sla", "status", None, "new"),
        ("platform", "status", "new", "responded"),
        ("platform", "responded_at", None, replied_at.isoformat()),
    ]
    assert session.get(Triage, open_item.id).status == "new"

    # a reply that appears on a later crawl, without a reply time, is stamped with "now"
    session.get(type(open_item), open_item.id).reply_text = "We are on it"
    later = NOW + timedelta(hours=3)
    assert enqueue_new(session, settings(), now=later) == 0
    assert session.get(Triage, open_item.id).responded_at == later


def test_status_assign_note_history(session: Session) -> None:
    row = review(session, seen=MON_9, location_key=None)
    enqueue_new(session, settings(), now=NOW)
    t1, t2, t3 = (NOW + timedelta(minutes=m) for m in (1, 2, 3))
    assign(session, row.id, "alice", "lead", now=t1)
    assign(session, row.id, "alice", "lead", now=t1)  # no change, no event
    set_status(session, row.id, "in_progress", "alice", now=t2)
    add_note(session, row.id, "Called the guest, <b>refund</b> agreed", "alice", now=t3)
    add_note(session, row.id, "Refund sent", "bob", now=t3)
    item = session.get(Triage, row.id)
    assert (item.status, item.assignee) == ("in_progress", "alice")
    assert item.notes == (
        "[2026-11-23 10:03 UTC alice] Called the guest, <b>refund</b> agreed\n"
        "[2026-11-23 10:03 UTC bob] Refund sent"
    )
    assert events(session, row.id)[1:] == [
        ("lead", "assignee", None, "alice"),
        ("alice", "status", "new", "in_progress"),
        ("alice", "note", None, "Called the guest, <b>refund</b> agreed"),
        ("bob", "note", None, "Refund sent"),
    ]
    stamps = session.scalars(select(TriageEvent.at).where(TriageEvent.review_id == row.id)).all()
    assert stamps == [NOW, t1, t2, t3, t3]

    set_status(session, row.id, "responded", "alice", now=t3)
    assert session.get(Triage, row.id).responded_at == t3
    set_status(session, row.id, "new", "alice", now=t3)  # reopened: the answer time goes
    assert session.get(Triage, row.id).responded_at is None
    assign(session, row.id, "  ", "lead", now=t3)
    assert session.get(Triage, row.id).assignee is None
    assert events(session, row.id)[-4:] == [
        ("alice", "responded_at", None, t3.isoformat()),
        ("alice", "status", "responded", "new"),
        ("alice", "responded_at", t3.isoformat(), None),
        ("lead", "assignee", "alice", None),
    ]


def test_mark_responded_creates_row_and_keeps_first_time(session: Session) -> None:
    row = review(session, label="positive", seen=MON_9)
    mark_responded(session, row.id, NOW, "api")
    mark_responded(session, row.id, NOW + timedelta(hours=1), "platform")
    item = session.get(Triage, row.id)
    assert (item.status, item.responded_at, item.due_at) == ("responded", NOW, None)
    assert events(session, row.id) == [
        ("api", "status", None, "new"),
        ("api", "status", "new", "responded"),
        ("api", "responded_at", None, NOW.isoformat()),
    ]


def test_bad_input_is_refused(session: Session) -> None:
    row = review(session, seen=MON_9)
    with pytest.raises(TriageError, match="unknown status 'done'"):
        set_status(session, row.id, "done", "alice")
    with pytest.raises(TriageError, match="actor"):
        assign(session, row.id, "alice", " ")
    with pytest.raises(TriageError, match="empty"):
        add_note(session, row.id, "  ", "alice")
    with pytest.raises(UnknownReview, match="no review with id 999999"):
        mark_responded(session, 999999, NOW, "api")
    assert session.scalars(select(Triage)).all() == []


def test_escalate_overdue_once(session: Session) -> None:
    late, answered, fresh = (review(session, seen=MON_9, location_key=None) for _ in range(3))
    enqueue_new(session, settings(), now=NOW)  # all due Tuesday 10:00 UTC
    session.get(Triage, fresh.id).due_at = datetime(2026, 11, 30, 10, tzinfo=UTC)
    mark_responded(session, answered.id, NOW, "api")
    deadline = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert escalate_overdue(session, now=deadline) == 0  # due exactly now is not late yet
    after = deadline + timedelta(minutes=1)
    assert escalate_overdue(session, now=after) == 1
    assert escalate_overdue(session, now=after + timedelta(hours=1)) == 0
    assert session.get(Triage, late.id).escalated_at == after
    assert session.get(Triage, answered.id).escalated_at is None
    assert session.get(Triage, fresh.id).escalated_at is None
    assert events(session, late.id)[-1] == ("sla", "escalated_at", None, after.isoformat())
