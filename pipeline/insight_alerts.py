"""Alerts about incidents and emerging topics: what each one says, and when a rule fires.

An incident rule fires once per incident, when at least ``min_reviews`` of its reviews were
published in the last ``within_hours``; a topic rule once per emerging topic (location and its
telling words) with ``min_reviews`` recent reviews. Competitors' incidents and topics stay quiet.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pipeline.config import IncidentRule, Settings, TopicRule
from pipeline.incidents import grown_within, recent_incidents, sample_ids
from pipeline.topics import topics_for

TEXT_SAMPLES = 3


def incident_payloads(
    session: Session, rule: IncidentRule, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    names = {loc.key: loc.name for loc in settings.locations}
    competitors = {loc.key for loc in settings.locations if loc.is_competitor}
    since = now - timedelta(hours=rule.within_hours)
    payloads = []
    for incident in recent_incidents(session, since, limit=200):
        places = [p for p in incident.locations if p not in competitors]
        if incident.locations and not places:
            continue
        if rule.locations and not set(rule.locations) & set(places):
            continue
        recent = grown_within(session, incident.id, since)
        if recent < rule.min_reviews:
            continue
        payloads.append(
            {
                "kind": "incident",
                "incident_id": incident.id,
                "size": incident.size,
                "recent": recent,
                "within_hours": rule.within_hours,
                "platforms": list(incident.platforms),
                "locations": places,
                "location_names": [names.get(p, p) for p in places],
                "aspects": list(incident.aspects),
                "first_seen": incident.first_seen.isoformat(),
                "last_seen": incident.last_seen.isoformat(),
                "review_ids": sample_ids(session, incident.id, TEXT_SAMPLES),
            }
        )
    return payloads


def topic_payloads(session: Session, rule: TopicRule, settings: Settings) -> list[dict[str, Any]]:
    own = {loc.key: loc.name for loc in settings.locations if not loc.is_competitor}
    payloads = []
    for topic in topics_for(session):
        if topic.location_key not in own or topic.recent_reviews < rule.min_reviews:
            continue
        if rule.locations and topic.location_key not in rule.locations:
            continue
        payloads.append(
            {
                "kind": "topic",
                "key": topic.key,
                "location": topic.location_key,
                "location_name": own[topic.location_key],
                "words": list(topic.words),
                "labels": dict(topic.labels),
                "recent_reviews": topic.recent_reviews,
                "recent_share": topic.recent_share,
                "baseline_share": topic.baseline_share,
            }
        )
    return payloads


def render_incident(p: dict[str, Any]) -> tuple[str, str]:
    places = ", ".join(p.get("location_names") or []) or "no location"
    subject = (
        f"[revmon] Incident: {p['recent']} reviews in {p['within_hours']:g} h "
        f"on {', '.join(p['platforms'])} ({places})"
    )
    text = (
        f"{p['size']} negative reviews about the same thing"
        + (f" ({', '.join(p['aspects'])})" if p.get("aspects") else "")
        + f", from {p['first_seen'][:16]} to {p['last_seen'][:16]} UTC, on "
        f"{', '.join(p['platforms'])}. Answer one in the inbox and revmon offers the same "
        f"answer for the others. Reviews: {', '.join(f'#{i}' for i in p['review_ids'])}."
    )
    return subject, text


def render_topic(p: dict[str, Any]) -> tuple[str, str]:
    words = ", ".join(p["words"][:6])
    subject = f"[revmon] Emerging topic at {p['location_name']}: {words}"
    text = (
        f"{p['recent_share']:.0%} of the recent reviews of {p['location_name']} are about "
        f"{words}; usually {p['baseline_share']:.0%}. In each language: "
        + "; ".join(f"{lang}: {', '.join(ws)}" for lang, ws in p["labels"].items())
    )
    return subject, text
