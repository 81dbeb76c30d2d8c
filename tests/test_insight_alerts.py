"""Alert rules for incidents and emerging topics, in the style of the other rules: fire once,
respect their thresholds and locations, say what happened; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from pipeline.alerts import queue_alerts, render_alert
from pipeline.config import Settings
from pipeline.incidents import detect_incidents
from pipeline.models import Alert
from pipeline.topics import refresh_topics
from tests.seed_event import NOW
from tests.test_incidents import world  # noqa: F401 (a fixture)

CHANNELS = {"hook": {"type": "webhook", "url": "https://hooks.example/x", "secret_env": "REVMON_X"}}
LOCATIONS = [
    {"key": "central", "name": "Central Cafe"},
    {"key": "riverside", "name": "Riverside Cafe"},
    {"key": "rival", "name": "Rival Bistro", "is_competitor": True},
]


def settings(**alerts: object) -> Settings:
    return Settings(locations=LOCATIONS, alerts={"channels": CHANNELS, **alerts})


def test_an_incident_that_grows_past_n_in_m_hours_alerts_once(session, world):  # noqa: F811
    detect_incidents(session, now=NOW)
    rule = {"name": "incident", "channels": ["hook"], "min_reviews": 4, "within_hours": 36}
    assert queue_alerts(session, settings(incidents=[rule]), now=NOW) == 1
    assert queue_alerts(session, settings(incidents=[rule]), now=NOW) == 0  # never twice
    alert = session.scalar(select(Alert))
    assert alert.key.startswith("incident:") and alert.review_id is None
    assert alert.payload["recent"] == 5 and alert.payload["size"] == 6  # e2..e6 within 36 h
    message = render_alert(alert)
    assert message.subject.startswith("[revmon] Incident: 5 reviews in 36 h on google")
    assert "Central Cafe, Riverside Cafe" in message.subject and "billing" in message.text


@pytest.mark.parametrize(
    "rule",
    [
        {"min_reviews": 6, "within_hours": 36},  # only 5 that recent
        {"min_reviews": 2, "within_hours": 4},  # only e6
        {"min_reviews": 2, "within_hours": 48, "locations": ["rival"]},
    ],
)
def test_incident_rule_thresholds(session, world, rule):  # noqa: F811
    detect_incidents(session, now=NOW)
    rule = {"name": "incident", "channels": ["hook"], **rule}
    assert queue_alerts(session, settings(incidents=[rule]), now=NOW) == 0


def test_an_emerging_topic_alerts_once_for_own_locations(session, world):  # noqa: F811
    refresh_topics(session, now=NOW)
    rule = {"name": "topics", "channels": ["hook"]}
    assert queue_alerts(session, settings(topics=[rule]), now=NOW) == 1
    assert queue_alerts(session, settings(topics=[rule]), now=NOW) == 0
    alert = session.scalar(select(Alert))
    message = render_alert(alert)
    assert message.subject.startswith("[revmon] Emerging topic at Central Cafe: terminal")
    assert "uk:" in message.text and "27%" in message.text
    strict = {"name": "topics-strict", "channels": ["hook"], "min_reviews": 4}
    assert queue_alerts(session, settings(topics=[strict]), now=NOW) == 0


def test_insight_rules_are_validated_like_the_others():
    with pytest.raises(ValidationError, match="unknown channel"):
        settings(incidents=[{"name": "i", "channels": ["nope"]}])
    with pytest.raises(ValidationError):
        settings(incidents=[{"name": "i", "channels": ["hook"], "min_reviews": 1}])
    with pytest.raises(ValidationError, match="duplicate rule"):
        settings(topics=[{"name": "t", "channels": ["hook"]}],
                 incidents=[{"name": "t", "channels": ["hook"]}])  # fmt: skip
    with pytest.raises(ValidationError):
        settings(topics=[{"name": "t", "channels": ["hook"], "window": 3}])  # unknown field
