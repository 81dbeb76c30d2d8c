"""Uncertain reviews reach a person: the ``check`` band enters the queue and the inbox says why,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pipeline.config import Settings
from pipeline.models import Triage
from pipeline.queries import inbox
from pipeline.triage import enqueue_new
from tests.seeding import location, review

SEEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def flagged(session, **kw):
    row = review(session, seen=SEEN, **kw)
    row.sentiment.needs_check = True
    session.flush()
    return row


def test_uncertain_reviews_are_queued_and_flagged_check(session):
    location(session, "main")
    location(session, "rival", is_competitor=True)
    uncertain = flagged(session, label="neutral", text="Hmm, interesting visit.")
    settled = flagged(session, label="neutral", corrected="positive")  # a person decided
    flagged(session, label="neutral", location_key="rival")  # competitors are not answered
    plain = review(session, label="neutral", seen=SEEN)
    negative = review(session, seen=SEEN)

    settings = Settings(locations=[{"key": "main", "name": "Main"}])
    assert enqueue_new(session, settings, now=SEEN + timedelta(hours=1)) == 2
    queued = set(session.scalars(select(Triage.review_id)))
    assert queued == {uncertain.id, negative.id}
    assert settled.id not in queued and plain.id not in queued

    items = {item.review_id: item for item in inbox(session, now=SEEN).items}
    assert items[uncertain.id].needs_check and not items[negative.id].needs_check
