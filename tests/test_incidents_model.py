"""Incidents and topics with the real bundled model: the event of tests/seed_event.py, told in
six languages on three platforms, scored by ``revmon score``'s code path (which stores the
embeddings), is found as one incident and as the central café's emerging topic."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.incidents import detect_incidents
from pipeline.insight_models import Incident, IncidentMember
from pipeline.scoring import score_pending
from pipeline.topics import refresh_topics
from tests.seed_event import BACKGROUND, EVENT, NOW, seed_reviews

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classifier():
    from sentiment import load_classifier

    return load_classifier(None)


def test_the_event_is_one_incident_and_an_emerging_topic(sessions, classifier):
    with sessions.begin() as session:
        ids = seed_reviews(session, scored=False)
    score_pending(sessions, classifier)
    with sessions.begin() as session:
        detect_incidents(session, now=NOW)
        incidents = [set(i.platforms) for i in session.scalars(select(Incident))]
        members = set(session.scalars(select(IncidentMember.review_id)))
        topics = refresh_topics(session, now=NOW)
        labels = {t.location_key: t.labels for t in topics}
        samples = {t.location_key: set(t.sample_review_ids) for t in topics}
    event = {ids[s.key] for s in EVENT}
    assert len(incidents) == 1
    assert not members & {ids[s.key] for s in BACKGROUND}
    assert len(members & event) >= 5  # one retelling stresses other details (model card)
    assert incidents[0] == {"google", "trustpilot", "twogis"}
    assert set(labels) == {"central"}
    assert samples["central"] <= event
    assert "terminal" in labels["central"]["en"]
