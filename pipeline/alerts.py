"""Alert rules -> outbox rows, and what each alert says. Delivery lives in ``pipeline.outbox``.

Five kinds of rules (``[alerts]`` in revmon.toml):
- review rules: negative, mixed, rating <= N, urgency >= N, keywords, overdue (its SLA deadline
  passed unanswered); every condition given must hold; reviews older than ``max_age_hours`` stay
  quiet, so the first crawl of a 5-year-old listing does not page anyone;
- spikes: a location's share of negatives in the last window well above its usual share;
- digests: one summary a day per recipient channel, after a local hour;
- incidents: one incident (``pipeline.incidents``) grows past N reviews in M hours;
- topics: a topic emerges at a location (``pipeline.topics``).

Queuing is idempotent: rows are inserted with ``ON CONFLICT DO NOTHING`` against the outbox's
unique keys, so re-running a pass (or two processes running one) never queues a message twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from pipeline.alert_summaries import digest_payload, render_digest, render_spike, spike_payloads
from pipeline.config import AlertRule, Settings
from pipeline.insight_alerts import incident_payloads, render_incident, render_topic, topic_payloads
from pipeline.models import Alert, Location, Review, Sentiment, Triage
from pipeline.notifiers import Message, build_notifiers
from pipeline.outbox import DeliveryReport, deliver_pending
from pipeline.triage import OPEN_STATUSES, enqueue_new, escalate_overdue, is_negative_or_mixed

__all__ = ["DeliveryReport", "deliver_pending", "queue_alerts", "render_alert", "run_alerts_once"]
TEXT_LIMIT = 1500


def run_alerts_once(settings: Settings, sessions: sessionmaker[Session]) -> DeliveryReport:
    """`revmon alerts`: queue new triage items, escalate overdue ones, evaluate the rules and
    deliver what is due. Channels are built first, so a missing secret stops it before work."""
    notifiers = build_notifiers(settings.alerts)
    try:
        _refresh_insights(sessions)
        with sessions.begin() as session:
            triaged = enqueue_new(session, settings)
            escalated = escalate_overdue(session)
            queued = queue_alerts(session, settings)
        report = deliver_pending(sessions, settings, notifiers=notifiers)
    finally:
        for notifier in notifiers.values():
            notifier.close()
    report.triaged, report.escalated, report.queued = triaged, escalated, queued
    return report


def _refresh_insights(sessions: sessionmaker[Session]) -> None:
    """Rollups, incidents and topics current before the rules read them (after the last
    crawl and scoring); a failure is logged there and never stops the alerts."""
    from pipeline.insight_refresh import refresh_insights

    refresh_insights(sessions)


def queue_alerts(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Evaluate every rule and add the outbox rows it calls for; returns how many were added."""
    now = now or datetime.now(UTC)
    config = settings.alerts
    names = {loc.key: loc.name for loc in settings.locations}
    rows: list[dict[str, Any]] = []
    for rule in config.rules:
        for review, sentiment, triage in _matching(session, rule, now):
            payload = review_payload(review, sentiment, triage, names, overdue=rule.overdue)
            key = f"review:{review.id}"
            rows += [_row(rule.name, c, key, payload, now, review.id) for c in rule.channels]
    for spike in config.spikes:
        for payload in spike_payloads(session, spike, settings, now):
            key = f"spike:{payload['location']}:{now:%Y-%m-%d}"
            rows += [_row(spike.name, c, key, payload, now) for c in spike.channels]
    for incident_rule in config.incidents:
        for payload in incident_payloads(session, incident_rule, settings, now):
            key = f"incident:{payload['incident_id']}"
            rows += [_row(incident_rule.name, c, key, payload, now) for c in incident_rule.channels]
    for topic_rule in config.topics:
        for payload in topic_payloads(session, topic_rule, settings):
            key = f"topic:{payload['key']}"
            rows += [_row(topic_rule.name, c, key, payload, now) for c in topic_rule.channels]
    for digest in config.digests:
        local = now.astimezone(ZoneInfo(digest.timezone))
        key = f"digest:{local:%Y-%m-%d}"
        if local.hour < digest.hour or _exists(session, digest.name, key, digest.channels):
            continue
        payload = digest_payload(session, digest, settings, now)
        rows += [_row(digest.name, c, key, payload, now) for c in digest.channels]
    return insert_ignoring_duplicates(session, rows)


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """One INSERT ... ON CONFLICT DO NOTHING; the unique keys make every alert single."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Alert).values(rows).on_conflict_do_nothing().returning(Alert.id)
    return len(session.execute(statement).all())  # rowcount is not portable here; RETURNING is


def review_payload(
    review: Review,
    sentiment: Sentiment | None,
    triage: Triage | None,
    location_names: dict[str, str],
    *,
    overdue: bool = False,
) -> dict[str, Any]:
    """The alert's content as queued: what the person needs to decide, and the link."""
    label = (sentiment.corrected_label or sentiment.label) if sentiment else None
    return {
        "kind": "overdue" if overdue else "review",
        "review_id": review.id,
        "platform": review.platform,
        "location": review.location_key,
        "location_name": location_names.get(review.location_key or "", review.location_key),
        "author": review.author,
        "rating": review.rating,
        "title": review.title,
        "text": review.text[:TEXT_LIMIT],
        "url": review.url,
        "published_at": review.published_at.isoformat(),
        "label": label,
        "mixed": bool(sentiment and sentiment.mixed),
        "urgency": sentiment.urgency if sentiment else None,
        "signals": list(sentiment.signals or []) if sentiment else [],
        "status": triage.status if triage else None,
        "due_at": triage.due_at.isoformat() if triage and triage.due_at else None,
    }


def render_alert(alert: Alert) -> Message:
    """Turn a queued row into a channel-neutral message (each notifier escapes for itself)."""
    payload = alert.payload or {}
    kind = payload.get("kind")
    key = f"revmon-alert-{alert.id}"
    if kind == "spike":
        subject, text = render_spike(payload)
    elif kind == "digest":
        subject, text = render_digest(payload)
    elif kind == "incident":
        subject, text = render_incident(payload)
    elif kind == "topic":
        subject, text = render_topic(payload)
    else:
        subject, text = _render_review(payload)
    data = {"rule": alert.rule, "channel": alert.channel, **payload}
    return Message(key=key, subject=subject, text=text, url=payload.get("url"), data=data)


def _render_review(p: dict[str, Any]) -> tuple[str, str]:
    stars = f"{p['rating']:g}★ " if p.get("rating") is not None else ""
    what = p.get("label") or "new"
    where = p.get("location_name") or "unassigned location"
    prefix = "Overdue: " if p.get("kind") == "overdue" else ""
    subject = f"[revmon] {prefix}{stars}{what} review of {where} on {p.get('platform')}"
    lines = [f"{p.get('author') or 'Someone'} wrote on {p.get('published_at', '')[:16]}:"]
    if p.get("title"):
        lines.append(p["title"])
    lines.append(p.get("text") or "")
    facts = []
    if p.get("urgency") is not None:
        facts.append(f"urgency {p['urgency']}/100")
    if p.get("signals"):
        facts.append("signals: " + ", ".join(p["signals"]))
    if p.get("due_at"):
        facts.append(f"respond by {p['due_at'][:16]} UTC")
    if facts:
        lines += ["", " · ".join(facts)]
    return subject, "\n".join(lines)


def _matching(
    session: Session, rule: AlertRule, now: datetime
) -> Iterable[tuple[Review, Sentiment | None, Triage | None]]:
    since = now - timedelta(hours=rule.max_age_hours)
    query = (
        select(Review, Sentiment, Triage)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Triage, Triage.review_id == Review.id)
        .outerjoin(Location, Location.key == Review.location_key)
        .where(~exists().where(Alert.rule == rule.name, Alert.review_id == Review.id))
        .order_by(Review.id)
    )
    if rule.overdue:
        query = query.where(Triage.status.in_(OPEN_STATUSES), Triage.escalated_at >= since)
    else:
        query = query.where(Review.published_at >= since)
    if rule.negative:
        query = query.where(func.coalesce(Sentiment.corrected_label, Sentiment.label) == "negative")
    if rule.mixed:
        query = query.where(is_negative_or_mixed())
    if rule.max_rating is not None:
        query = query.where(Review.rating <= rule.max_rating)
    if rule.min_urgency is not None:
        query = query.where(Sentiment.urgency >= rule.min_urgency)
    if rule.locations:
        query = query.where(Review.location_key.in_(rule.locations))
    if not rule.include_competitors:
        query = query.where(or_(Location.id.is_(None), Location.is_competitor.is_(False)))
    keywords = [k.casefold() for k in rule.keywords if k.strip()]
    for review, sentiment, triage in session.execute(query).all():
        haystack = f"{review.title or ''}\n{review.text}".casefold()
        if not keywords or any(k in haystack for k in keywords):
            yield review, sentiment, triage


def _exists(session: Session, rule: str, key: str, channels: list[str]) -> bool:
    query = select(func.count()).where(
        Alert.rule == rule, Alert.key == key, Alert.channel.in_(channels)
    )
    return session.scalar(query) == len(set(channels))


def _row(
    rule: str,
    channel: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    review_id: int | None = None,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "review_id": review_id,
        "channel": channel,
        "key": key,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def pending_count(sessions: sessionmaker[Session]) -> int:
    """Rows still waiting to go out (for the CLI summary and the dashboard)."""
    with sessions() as session:
        query = select(func.count()).where(Alert.state.in_(("pending", "failed", "sending")))
        return session.scalar(query) or 0
