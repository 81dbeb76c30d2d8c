"""Tables derived from the reviews: stored embeddings, daily rollups, recoveries, incidents and
emerging topics. Each can be rebuilt from ``reviews``, ``review_revisions``, ``sentiment`` and
``triage``; they exist so that reading never has to scan those (issue 15).

Imported by ``pipeline.models`` so that ``Base.metadata`` always holds them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pipeline.models import Base, utcnow

# Upper bounds (hours) of the response-time histogram kept per rollup row; the last is open.
RESPONSE_BUCKETS_H = (
    0.25, 0.5, 1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 30, 36, 48, 60, 72, 96, 120, 168, 336, 720,
)  # fmt: skip
RESPONSE_COLUMNS = tuple(f"resp_{i:02d}" for i in range(len(RESPONSE_BUCKETS_H) + 1))
STAR_COLUMNS = ("stars_1", "stars_2", "stars_3", "stars_4", "stars_5")


class ReviewEmbedding(Base):
    """The encoder's vectors for a review's scored text, as float16 bytes (768 bytes per 384-dim
    vector): the whole text first, then the sentences listed in ``sentences``. Keyed by encoder
    version, so a new head re-scores from them and a new encoder writes its own row."""

    __tablename__ = "review_embeddings"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    encoder: Mapped[str] = mapped_column(String(255), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), doc="sha256 of the text that was encoded")
    dim: Mapped[int] = mapped_column(Integer)
    sentences: Mapped[list[Any]] = mapped_column(default=list, doc="sentence indexes stored")
    vectors: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _count() -> Any:
    return mapped_column(Integer, default=0)


class DailyRollup(Base):
    """Per UTC day of publication, location and platform: everything Trends shows, summed.

    ``location_key`` is ``''`` for reviews without a location (a primary key cannot be NULL).
    Response times are a histogram (``resp_NN`` counts below ``RESPONSE_BUCKETS_H[NN]``
    hours), so medians over any range are read from sums.
    """

    __tablename__ = "rollup_daily"
    __table_args__ = (Index("ix_rollup_daily_location_day", "location_key", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    location_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    reviews: Mapped[int] = _count()
    rated: Mapped[int] = _count()
    rating_sum: Mapped[float] = mapped_column(Float, default=0.0)
    stars_1: Mapped[int] = _count()
    stars_2: Mapped[int] = _count()
    stars_3: Mapped[int] = _count()
    stars_4: Mapped[int] = _count()
    stars_5: Mapped[int] = _count()
    scored: Mapped[int] = _count()
    negative: Mapped[int] = _count()
    neutral: Mapped[int] = _count()
    positive: Mapped[int] = _count()
    mixed: Mapped[int] = _count()
    checked: Mapped[int] = _count()
    promoters: Mapped[int] = _count()
    passives: Mapped[int] = _count()
    detractors: Mapped[int] = _count()
    sci_satisfied: Mapped[int] = _count()
    sci_return: Mapped[int] = _count()
    sci_recommend: Mapped[int] = _count()
    sci_secure: Mapped[int] = _count()
    responded: Mapped[int] = _count()
    response_n: Mapped[int] = _count()
    response_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    replied_negative: Mapped[int] = _count()
    recovered: Mapped[int] = _count()
    resp_00: Mapped[int] = _count()
    resp_01: Mapped[int] = _count()
    resp_02: Mapped[int] = _count()
    resp_03: Mapped[int] = _count()
    resp_04: Mapped[int] = _count()
    resp_05: Mapped[int] = _count()
    resp_06: Mapped[int] = _count()
    resp_07: Mapped[int] = _count()
    resp_08: Mapped[int] = _count()
    resp_09: Mapped[int] = _count()
    resp_10: Mapped[int] = _count()
    resp_11: Mapped[int] = _count()
    resp_12: Mapped[int] = _count()
    resp_13: Mapped[int] = _count()
    resp_14: Mapped[int] = _count()
    resp_15: Mapped[int] = _count()
    resp_16: Mapped[int] = _count()
    resp_17: Mapped[int] = _count()
    resp_18: Mapped[int] = _count()
    resp_19: Mapped[int] = _count()
    resp_20: Mapped[int] = _count()
    resp_21: Mapped[int] = _count()
    resp_22: Mapped[int] = _count()
    resp_23: Mapped[int] = _count()


class AspectRollup(Base):
    """Per day, location, platform and aspect: mentions, mentions in negative reviews, and the
    polarity of the sentences about it (praised / criticised)."""

    __tablename__ = "rollup_aspects"
    __table_args__ = (Index("ix_rollup_aspects_location_day", "location_key", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    location_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    aspect: Mapped[str] = mapped_column(String(32), primary_key=True)
    mentions: Mapped[int] = _count()
    negative: Mapped[int] = _count()
    praised: Mapped[int] = _count()
    criticised: Mapped[int] = _count()


class Recovery(Base):
    """A negative review that got an answer and whose author then raised the rating out of
    1-2 stars or turned the text non-negative: when, and how long after the answer."""

    __tablename__ = "recoveries"
    __table_args__ = (Index("ix_recoveries_location_day", "location_key", "day"),)

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, doc="UTC day the review was published")
    location_key: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[datetime]
    recovered_at: Mapped[datetime]
    hours: Mapped[float] = mapped_column(Float)


class RollupState(Base):
    """How far the rollups are current: the next refresh recomputes what changed since."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    refreshed_at: Mapped[datetime]
    max_review_id: Mapped[int] = mapped_column(Integer, default=0)


class Incident(Base):
    """Negative reviews about the same thing within a time window, across platforms and
    locations. ``answer_text`` is the answer given to one member, offered for the others."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_last_seen", "last_seen"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(doc="earliest member's publication")
    last_seen: Mapped[datetime] = mapped_column(doc="latest member's publication")
    size: Mapped[int] = mapped_column(Integer, default=0)
    platforms: Mapped[list[Any]] = mapped_column(default=list)
    locations: Mapped[list[Any]] = mapped_column(default=list)
    aspects: Mapped[list[Any]] = mapped_column(default=list)
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentMember(Base):
    """A review's place in an incident (at most one)."""

    __tablename__ = "incident_members"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    similarity: Mapped[float] = mapped_column(Float, doc="cosine to the incident when it joined")
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmergingTopic(Base):
    """A cluster of a location's reviews whose share in the recent window clearly exceeds its
    share before; replaced on each refresh. ``labels`` holds the telling words per language."""

    __tablename__ = "emerging_topics"
    __table_args__ = (Index("ix_emerging_topics_location", "location_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_key: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160), doc="stable name for alerts: location+words")
    words: Mapped[list[Any]] = mapped_column(default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recent_reviews: Mapped[int] = mapped_column(Integer)
    recent_share: Mapped[float] = mapped_column(Float)
    baseline_share: Mapped[float] = mapped_column(Float)
    sample_review_ids: Mapped[list[Any]] = mapped_column(default=list)
    window_start: Mapped[datetime]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
