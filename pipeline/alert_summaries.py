"""Alerts about no single review: a spike of negatives at a location, and the daily digest.

Why a smoothed baseline for spikes: a location's "usual" share of negatives comes from few
reviews, often none; ``(K + PRIOR * M) / (N + M)`` pulls a thin history towards a typical
share (15 % over 10 pseudo-reviews), so one bad review at a quiet branch is not a "spike" and a
new branch with no history still gets alerted when most of its fresh reviews are negative.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from pipeline.config import DigestConfig, Settings, SpikeRule
from pipeline.models import Review, Sentiment, Triage

PRIOR_SHARE = 0.15
PRIOR_WEIGHT = 10
DIGEST_TOP = 5


def _negative():  # type: ignore[no-untyped-def]
    label = func.coalesce(Sentiment.corrected_label, Sentiment.label)
    return func.coalesce(func.sum(case((label == "negative", 1), else_=0)), 0)


def negative_counts(
    session: Session, keys: list[str], start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """(scored reviews, negatives) per location published in [start, end)."""
    query = (
        select(Review.location_key, func.count(), _negative())
        .join(Sentiment, Sentiment.review_id == Review.id)
        .where(Review.location_key.in_(keys), Review.published_at >= start)
        .where(Review.published_at < end)
        .group_by(Review.location_key)
    )
    return {key: (int(n), int(neg)) for key, n, neg in session.execute(query)}


def spike_payloads(
    session: Session, rule: SpikeRule, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """One payload per own location whose negative share now is ``factor`` x its usual."""
    own = {loc.key: loc.name for loc in settings.locations if not loc.is_competitor}
    window_start = now - timedelta(hours=rule.window_hours)
    baseline_start = window_start - timedelta(days=rule.baseline_days)
    recent = negative_counts(session, list(own), window_start, now + timedelta(seconds=1))
    history = negative_counts(session, list(own), baseline_start, window_start)
    payloads = []
    for key, (reviews, negatives) in sorted(recent.items()):
        base_reviews, base_negatives = history.get(key, (0, 0))
        usual = (base_negatives + PRIOR_SHARE * PRIOR_WEIGHT) / (base_reviews + PRIOR_WEIGHT)
        share = negatives / reviews
        if negatives >= rule.min_negatives and share >= rule.factor * usual:
            payloads.append(
                {
                    "kind": "spike",
                    "location": key,
                    "location_name": own[key],
                    "reviews": reviews,
                    "negatives": negatives,
                    "share": round(share, 4),
                    "usual_share": round(usual, 4),
                    "baseline_reviews": base_reviews,
                    "window_hours": rule.window_hours,
                }
            )
    return payloads


def render_spike(p: dict[str, Any]) -> tuple[str, str]:
    subject = (
        f"[revmon] Negative spike at {p['location_name']}: {p['negatives']} of {p['reviews']}"
        f" reviews in {p['window_hours']:g} h"
    )
    text = (
        f"{p['share']:.0%} of the reviews of {p['location_name']} in the last "
        f"{p['window_hours']:g} hours are negative; usually {p['usual_share']:.0%} "
        f"(from {p['baseline_reviews']} earlier reviews)."
    )
    return subject, text


def digest_payload(
    session: Session, digest: DigestConfig, settings: Settings, now: datetime
) -> dict[str, Any]:
    """Yesterday-to-now in numbers per location, the open queue, and the most urgent items."""
    names = {loc.key: loc.name for loc in settings.locations if not loc.is_competitor}
    keys = digest.locations or list(names)
    since = now - timedelta(hours=24)
    counts = negative_counts(session, keys, since, now + timedelta(seconds=1))
    open_items = (
        select(Review, Triage, Sentiment.urgency)
        .join(Triage, Triage.review_id == Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .where(Triage.status.in_(("new", "in_progress")), Review.location_key.in_(keys))
    )
    rows = session.execute(open_items).all()
    rows.sort(key=lambda r: (-(r[2] or 0), r[1].due_at or now))
    return {
        "kind": "digest",
        "date": f"{now.astimezone(ZoneInfo(digest.timezone)):%Y-%m-%d}",
        "locations": [
            {
                "key": k,
                "name": names.get(k, k),
                "reviews": counts.get(k, (0, 0))[0],
                "negatives": counts.get(k, (0, 0))[1],
            }
            for k in keys
        ],
        "open": len(rows),
        "overdue": sum(1 for _, t, _ in rows if t.due_at is not None and t.due_at < now),
        "top": [
            {
                "review_id": r.id,
                "location": r.location_key,
                "rating": r.rating,
                "text": r.text[:160],
                "url": r.url,
                "urgency": urgency,
                "due_at": t.due_at.isoformat() if t.due_at else None,
            }
            for r, t, urgency in rows[:DIGEST_TOP]
        ],
    }


def render_digest(p: dict[str, Any]) -> tuple[str, str]:
    subject = f"[revmon] Daily digest {p['date']}: {p['open']} open, {p['overdue']} overdue"
    lines = ["Last 24 hours:"]
    lines += [
        f"- {loc['name']}: {loc['reviews']} reviews, {loc['negatives']} negative"
        for loc in p["locations"]
    ]
    lines += ["", f"Awaiting a response: {p['open']} ({p['overdue']} overdue)"]
    for item in p["top"]:
        stars = f"{item['rating']:g}★ " if item.get("rating") is not None else ""
        lines.append(f"- {stars}{item['text']} ({item['url']})")
    return subject, "\n".join(lines)
