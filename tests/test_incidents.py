"""Incidents and emerging topics on SQLite and PostgreSQL, from stored vectors whose geometry is
known by construction: one event told in six languages on three platforms (tests/seed_event.py)
shares one direction; every other review points its own way."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from pipeline import embeddings
from pipeline.incidents import (
    detect_incidents,
    grown_within,
    incident_of,
    recent_incidents,
    remember_answer,
    sample_ids,
)
from pipeline.insight_models import Incident, IncidentMember
from pipeline.models import Review, Sentiment
from pipeline.topics import refresh_topics, topics_for
from tests.seed_event import BACKGROUND, BASELINE, EVENT, NOW, seed_reviews

DIM = 32
ENCODER = "test-encoder@1"


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@pytest.fixture
def world(session):
    """The seeded reviews with vectors: the event near E, praise near P, the rest random."""
    rng = np.random.default_rng(7)
    event, praise = unit(rng.normal(size=DIM)), unit(rng.normal(size=DIM))
    ids = seed_reviews(session)
    for spec in [*EVENT, *BACKGROUND, *BASELINE]:
        if spec in EVENT:
            vector = unit(event + 0.05 * rng.normal(size=DIM))
        elif spec.label == "positive":
            vector = unit(praise + 0.05 * rng.normal(size=DIM))
        else:
            vector = unit(rng.normal(size=DIM))
        embeddings.store(session, {}, ids[spec.key], ENCODER, "h", vector, {})
    session.flush()
    return ids, event, rng


def add_review(session, key, location, hours_ago, vector, label="negative", **kw):
    review = Review(
        platform=kw.get("platform", "google"), external_id=key, url=f"https://x.example/{key}",
        text=kw.get("text", "The terminal charged me twice."), language="en",
        location_key=location, published_at=NOW - timedelta(hours=hours_ago), raw={},
        content_hash=key, rating=1.0,
    )  # fmt: skip
    session.add(review)
    session.flush()
    session.add(Sentiment(review_id=review.id, label=label, score=-0.8, aspects=["billing"],
                          model_id="hand", model_version="1", content_hash=key))  # fmt: skip
    embeddings.store(session, {}, review.id, ENCODER, "h", vector, {})
    session.flush()
    return review.id


def test_one_event_over_three_platforms_is_one_incident(session, world):
    ids, _, _ = world
    result = detect_incidents(session, now=NOW)
    assert (result.created, result.added) == (1, 6)
    [incident] = session.scalars(select(Incident)).all()
    members = set(session.scalars(select(IncidentMember.review_id)))
    assert members == {ids[s.key] for s in EVENT}
    assert incident.size == 6
    assert incident.platforms == ["google", "trustpilot", "twogis"]
    assert incident.locations == ["central", "riverside"]
    assert incident.first_seen == NOW - timedelta(hours=40)
    assert incident.last_seen == NOW - timedelta(hours=6)
    assert incident.aspects == ["billing"]  # named by half the members
    assert sample_ids(session, incident.id, 2) == sorted(ids[s.key] for s in EVENT)[:2]


def test_rerun_adds_nothing_and_a_new_retelling_grows_the_incident(session, world):
    ids, event, rng = world
    detect_incidents(session, now=NOW)
    assert detect_incidents(session, now=NOW).added == 0
    later = add_review(session, "e7", "riverside", 1, unit(event + 0.05 * rng.normal(size=DIM)))
    result = detect_incidents(session, now=NOW)
    assert (result.created, result.grown, result.added) == (0, 1, 1)
    [incident] = session.scalars(select(Incident)).all()
    assert incident.size == 7 and incident.last_seen == NOW - timedelta(hours=1)
    assert incident_of(session, later).id == incident.id
    assert grown_within(session, incident.id, NOW - timedelta(hours=13)) == 3  # e5, e6, e7


def test_competitors_and_reviews_outside_the_window_stay_out(session, world):
    ids, event, rng = world
    near = unit(event + 0.05 * rng.normal(size=DIM))
    rival = add_review(session, "r1", "rival", 10, near)
    old = add_review(session, "o1", "central", 24 * 6, near)  # 4 days before the event
    happy = add_review(session, "p1", "central", 11, near, label="positive")
    detect_incidents(session, now=NOW)
    members = set(session.scalars(select(IncidentMember.review_id)))
    assert members == {ids[s.key] for s in EVENT}
    assert not {rival, old, happy} & members


def test_the_inbox_view_and_the_answer_offered_to_siblings(session, world):
    ids, _, _ = world
    detect_incidents(session, now=NOW)
    view = incident_of(session, ids["e2"])
    assert view is not None and view.size == 6
    assert [m.review_id for m in view.members][:2] == [ids["e1"], ids["e2"]]  # oldest first
    assert view.answer_text is None
    assert remember_answer(session, ids["e2"], "  We refunded every double charge.  ", "anna") == 5
    assert incident_of(session, ids["e5"]).answer_text == "We refunded every double charge."
    assert incident_of(session, ids["b1"]) is None
    with pytest.raises(LookupError):
        remember_answer(session, ids["b1"], "Sorry", "anna")
    with pytest.raises(ValueError):
        remember_answer(session, ids["e1"], "   ", "anna")
    assert [i.id for i in recent_incidents(session, NOW - timedelta(days=1), "central")] == [
        view.id
    ]
    assert recent_incidents(session, NOW - timedelta(days=1), "rival") == []


def test_emerging_topic_is_the_event_labelled_in_each_language(session, world):
    ids, _, _ = world
    [topic] = refresh_topics(session, now=NOW)
    assert topic.location_key == "central"
    central_recent = [s for s in [*EVENT, *BACKGROUND, *BASELINE]
                      if s.location == "central" and s.hours_ago <= 14 * 24]  # fmt: skip
    assert topic.recent_reviews == 3  # e1, e2, e4 are the central café's
    assert topic.recent_share == pytest.approx(3 / len(central_recent), abs=1e-4)
    assert topic.baseline_share == 0.0
    assert list(topic.labels) == ["en", "pl", "uk"] or set(topic.labels) == {"en", "pl", "uk"}
    assert "terminal" in topic.labels["en"] and "terminal" in topic.labels["pl"]
    ukrainian = set(EVENT[3].text.lower().replace(".", "").split())
    assert set(topic.labels["uk"]) <= ukrainian  # the Ukrainian review's own words
    assert topic.words[0] == "terminal"
    assert set(topic.sample_review_ids) == {ids["e1"], ids["e2"], ids["e4"]}
    assert topics_for(session, "central") == [topic] and topics_for(session, "riverside") == []
    assert refresh_topics(session, now=NOW + timedelta(days=30)) == []  # the event is old news
