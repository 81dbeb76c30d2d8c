"""Incidents: negative reviews about the same thing within a time window, across platforms and
locations ("the card terminal charged me twice" on Trustpilot, 2GIS and Google one weekend).

How reviews are grouped: the negative (or mixed) reviews of own locations from the last
``lookback_days`` are clustered on their stored embeddings (agglomerative, average linkage), so
that a group's members are, on average, at least ``threshold`` cosine-similar to each other.
Reviews published more than ``window_hours`` apart never link; sharing an aspect adds
``SHARED_ASPECT`` to a pair's similarity, naming only different aspects takes off
``OTHER_ASPECTS``, and one naming none takes off ``ONE_UNNAMED``. A group of ``MIN_SIZE`` or
more is an incident. Membership is kept: a later run adds new members to the incident most of
their group already belongs to.

Why these numbers: the bundled encoder is tuned for sentiment, so any two complaints sit at
0.3-0.5 cosine; retellings of one event in several languages sit at 0.6-0.85 (measured on
tests/test_incidents_model.py's reviews). Vectors come from ``review_embeddings``; the encoder
never runs here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pipeline import embeddings
from pipeline.insight_models import Incident, IncidentMember
from pipeline.models import Location, Review, Sentiment, utcnow

THRESHOLD = 0.6
SHARED_ASPECT = 0.05
OTHER_ASPECTS = 0.1
ONE_UNNAMED = 0.03
WINDOW_HOURS = 72.0
LOOKBACK_DAYS = 14
MIN_SIZE = 2
MAX_CANDIDATES = 4000  # the newest; the distance matrix is n x n


@dataclass(frozen=True)
class Candidate:
    review_id: int
    published_at: datetime
    aspects: frozenset[str]
    vector: np.ndarray
    incident_id: int | None


@dataclass
class DetectResult:
    created: int = 0
    grown: int = 0
    added: int = 0

    def __str__(self) -> str:
        return f"incidents: {self.created} new, {self.grown} grown, {self.added} reviews added"


def detect_incidents(
    session: Session,
    now: datetime | None = None,
    *,
    threshold: float = THRESHOLD,
    window_hours: float = WINDOW_HOURS,
    lookback_days: int = LOOKBACK_DAYS,
) -> DetectResult:
    """Group the last ``lookback_days`` of negative reviews into incidents (see module doc)."""
    now = now or utcnow()
    candidates = _candidates(session, now - timedelta(days=lookback_days), now)
    result = DetectResult()
    for group in groups(candidates, threshold, window_hours):
        _persist(session, group, now, result)
    session.flush()
    return result


def groups(
    candidates: list[Candidate], threshold: float, window_hours: float
) -> list[list[Candidate]]:
    """Clusters of two or more candidates (see the module docstring for the rules)."""
    from sklearn.cluster import AgglomerativeClustering

    if len(candidates) < MIN_SIZE:
        return []
    vectors = np.stack([c.vector for c in candidates])
    similarity = vectors @ vectors.T
    named = [c.aspects for c in candidates]
    for i, j in zip(*np.triu_indices(len(candidates), 1), strict=True):
        if named[i] & named[j]:
            adjust = SHARED_ASPECT
        elif named[i] and named[j]:
            adjust = -OTHER_ASPECTS
        elif named[i] or named[j]:
            adjust = -ONE_UNNAMED
        else:
            continue
        similarity[i, j] += adjust
        similarity[j, i] += adjust
    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    hours = np.array([c.published_at.timestamp() / 3600.0 for c in candidates])
    distance[np.abs(hours[:, None] - hours[None, :]) > window_hours] = 2.0
    np.fill_diagonal(distance, 0.0)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1 - threshold
    ).fit_predict(distance)
    clusters: dict[int, list[Candidate]] = {}
    for label, candidate in zip(labels, candidates, strict=True):
        clusters.setdefault(int(label), []).append(candidate)
    return [members for members in clusters.values() if len(members) >= MIN_SIZE]


def _candidates(session: Session, since: datetime, now: datetime) -> list[Candidate]:
    """Negative or mixed reviews of own locations in the window, newest MAX_CANDIDATES."""
    label = func.coalesce(Sentiment.corrected_label, Sentiment.label)
    negative = or_(
        label == "negative", and_(Sentiment.mixed.is_(True), Sentiment.corrected_label.is_(None))
    )
    query = (
        select(Review.id, Review.published_at, Sentiment.aspects, IncidentMember.incident_id)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Location, Location.key == Review.location_key)
        .outerjoin(IncidentMember, IncidentMember.review_id == Review.id)
        .where(Review.published_at >= since, Review.published_at <= now, negative)
        .where(or_(Location.id.is_(None), Location.is_competitor.is_(False)))
        .order_by(Review.published_at.desc(), Review.id.desc())
        .limit(MAX_CANDIDATES)
    )
    rows = session.execute(query).all()
    order, matrix = embeddings.text_matrix(session, [r.id for r in rows])
    vectors = dict(zip(order, matrix, strict=True))
    return [
        Candidate(r.id, r.published_at, frozenset(r.aspects or []), vectors[r.id], r.incident_id)
        for r in reversed(rows)
        if r.id in vectors
    ]


def _persist(
    session: Session, members: list[Candidate], now: datetime, result: DetectResult
) -> None:
    """Add a group's new members to the incident most of its known members are in, or open
    a new incident for it."""
    known = Counter(c.incident_id for c in members if c.incident_id is not None)
    fresh = [c for c in members if c.incident_id is None]
    if not fresh:
        return
    if known:
        incident = session.get(Incident, known.most_common(1)[0][0])
        result.grown += 1
    else:
        incident = Incident(first_seen=members[0].published_at, last_seen=now, created_at=now)
        session.add(incident)
        session.flush()
        result.created += 1
    assert incident is not None
    centroid = np.mean([c.vector for c in members], axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    for candidate in fresh:
        session.add(
            IncidentMember(
                review_id=candidate.review_id,
                incident_id=incident.id,
                similarity=round(float(centroid @ candidate.vector), 4),
                added_at=now,
            )
        )
        result.added += 1
    session.flush()
    _describe(session, incident, now)


def _describe(session: Session, incident: Incident, now: datetime) -> None:
    """Size, time span, places, platforms and aspects, from the members as stored."""
    rows = session.execute(
        select(Review.published_at, Review.platform, Review.location_key, Sentiment.aspects)
        .join(IncidentMember, IncidentMember.review_id == Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .where(IncidentMember.incident_id == incident.id)
    ).all()
    incident.size = len(rows)
    incident.first_seen = min(r.published_at for r in rows)
    incident.last_seen = max(r.published_at for r in rows)
    incident.platforms = sorted({r.platform for r in rows})
    incident.locations = sorted({r.location_key for r in rows if r.location_key})
    incident.aspects = _shared_aspects(r.aspects or [] for r in rows)
    incident.updated_at = now


def _shared_aspects(lists: Iterable[list[Any]]) -> list[str]:
    """Aspects named by at least half the members, most named first."""
    counts: Counter[str] = Counter()
    total = 0
    for aspects in lists:
        total += 1
        counts.update(set(aspects))
    return [a for a, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if 2 * n >= total]


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sibling:
    review_id: int
    platform: str
    location_key: str | None
    published_at: datetime
    text: str
    status: str | None


@dataclass(frozen=True)
class IncidentView:
    """An incident as the inbox and the report show it."""

    id: int
    size: int
    platforms: list[str]
    locations: list[str]
    aspects: list[str]
    first_seen: datetime
    last_seen: datetime
    answer_text: str | None
    members: list[Sibling]


def incident_of(session: Session, review_id: int) -> IncidentView | None:
    """The incident a review belongs to, with every member, or None."""
    incident_id = session.scalar(
        select(IncidentMember.incident_id).where(IncidentMember.review_id == review_id)
    )
    return view(session, incident_id) if incident_id is not None else None


def view(session: Session, incident_id: int) -> IncidentView | None:
    from pipeline.models import Triage

    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    rows = session.execute(
        select(Review, Triage.status)
        .join(IncidentMember, IncidentMember.review_id == Review.id)
        .outerjoin(Triage, Triage.review_id == Review.id)
        .where(IncidentMember.incident_id == incident_id)
        .order_by(Review.published_at, Review.id)
    ).all()
    members = [
        Sibling(r.id, r.platform, r.location_key, r.published_at, r.text, status)
        for r, status in rows
    ]
    return IncidentView(
        incident.id, incident.size, list(incident.platforms), list(incident.locations),
        list(incident.aspects), incident.first_seen, incident.last_seen, incident.answer_text,
        members,
    )  # fmt: skip


def remember_answer(session: Session, review_id: int, text: str, actor: str) -> int:
    """Keep the answer given to one member, so the inbox offers it for the others; returns how
    many siblings it is now offered to. Raises LookupError when the review is in no incident."""
    text = text.strip()
    if not text:
        raise ValueError("an empty answer cannot be offered to the siblings")
    incident_id = session.scalar(
        select(IncidentMember.incident_id).where(IncidentMember.review_id == review_id)
    )
    if incident_id is None:
        raise LookupError(f"review {review_id} belongs to no incident")
    incident = session.get(Incident, incident_id)
    assert incident is not None  # the membership's foreign key guarantees it
    incident.answer_text, incident.answer_by = text, actor
    incident.updated_at = utcnow()
    return max(0, incident.size - 1)


def recent_incidents(
    session: Session, since: datetime, location: str | None = None, limit: int = 50
) -> list[Incident]:
    """Incidents seen since ``since`` (optionally touching one location), newest first."""
    query = select(Incident).where(Incident.last_seen >= since).order_by(Incident.last_seen.desc())
    incidents = session.scalars(query.limit(limit * 4 if location else limit)).all()
    if location:
        incidents = [i for i in incidents if location in (i.locations or [])]
    return list(incidents[:limit])


def sample_ids(session: Session, incident_id: int, limit: int = 5) -> list[int]:
    query = (
        select(IncidentMember.review_id)
        .where(IncidentMember.incident_id == incident_id)
        .order_by(IncidentMember.review_id)
        .limit(limit)
    )
    return list(session.scalars(query))


def grown_within(session: Session, incident_id: int, since: datetime) -> int:
    """Members published since ``since``: what an incident alert rule counts."""
    query = (
        select(func.count())
        .select_from(IncidentMember)
        .join(Review, Review.id == IncidentMember.review_id)
        .where(IncidentMember.incident_id == incident_id, Review.published_at >= since)
    )
    return int(session.scalar(query) or 0)
