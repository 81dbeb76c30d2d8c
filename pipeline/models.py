"""The tables (ARCHITECTURE.md "Storage"), as SQLAlchemy 2.0 typed models.

Every timestamp is stored as UTC and read back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TRIAGE_STATUSES = ("new", "in_progress", "responded", "ignored")
ALERT_STATES = ("pending", "sending", "sent", "failed", "dead")
RUN_STATUSES = ("running", "ok", "degraded", "blocked", "failed", "interrupted")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; SQLite alone would hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: revmon stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Location(Base):
    """A business, branch or competitor from the config, mirrored for joins and the dashboard."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_competitor: Mapped[bool] = mapped_column(default=False)


class Review(Base):
    """One review or mention, unique per (platform, external_id), always its latest version."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_reviews_platform_external_id"),
        Index("ix_reviews_location_published", "location_key", "published_at"),
        Index("ix_reviews_platform_published", "platform", "published_at"),
        Index("ix_reviews_platform_identity", "platform", "identity_key"),
        Index("ix_reviews_first_seen", "first_seen"),
        Index("ix_reviews_changed_at", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="review")
    location_key: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(255))
    rating: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    published_at: Mapped[datetime]
    published_estimated: Mapped[bool] = mapped_column(
        default=False, doc="the source gave no date: published_at is when revmon first saw it"
    )
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_at: Mapped[datetime | None]
    removed: Mapped[bool] = mapped_column(
        default=False, doc="the platform took the content down; the last real text is kept"
    )
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    identity_key: Mapped[str | None] = mapped_column(
        String(64), doc="author + day + text: one review seen by two collectors under two ids"
    )
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(doc="when the content last changed")

    revisions: Mapped[list[ReviewRevision]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="ReviewRevision.id"
    )
    sentiment: Mapped[Sentiment | None] = relationship(
        back_populates="review", cascade="all, delete-orphan"
    )
    triage: Mapped[Triage | None] = relationship(
        back_populates="review", cascade="all, delete-orphan"
    )


class ReviewAlias(Base):
    """Another id under which a collector sees a stored review (Google's Business Profile API
    and Places API name the same review differently): later crawls land on the same row."""

    __tablename__ = "review_aliases"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_review_aliases_platform_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewRevision(Base):
    """An earlier version of a review, kept when its text, title, rating or reply changed."""

    __tablename__ = "review_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    reply_text: Mapped[str | None] = mapped_column(Text)
    reply_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    text_label: Mapped[str | None] = mapped_column(
        String(16), doc="the model's reading of this version's text, kept when it was replaced"
    )
    seen_from: Mapped[datetime] = mapped_column(doc="first time this version was seen")
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[Review] = relationship(back_populates="revisions")


class Sentiment(Base):
    """The classifier's view of a review's current text; re-scored when text or model change."""

    __tablename__ = "sentiment"
    __table_args__ = (
        Index("ix_sentiment_label_urgency", "label", "urgency"),
        Index("ix_sentiment_scored_at", "scored_at"),
        Index("ix_sentiment_corrected_at", "corrected_at"),
    )

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    probs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mixed: Mapped[bool] = mapped_column(default=False)
    aspects: Mapped[list[Any]] = mapped_column(default=list)
    signals: Mapped[list[Any]] = mapped_column(default=list)
    urgency: Mapped[int] = mapped_column(Integer, default=0)
    aspect_polarity: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="aspect -> 1 praised, -1 criticised, 0 neutral (its sentences)"
    )
    needs_check: Mapped[bool] = mapped_column(
        default=False, doc="not called negative, but uncertain enough for a person to check"
    )
    sci_satisfied: Mapped[int] = mapped_column(Integer, default=0, doc="+1 shown, -1 negated")
    sci_return: Mapped[int] = mapped_column(Integer, default=0)
    sci_recommend: Mapped[int] = mapped_column(Integer, default=0)
    model_id: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64), doc="the review version that was scored")
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    corrected_label: Mapped[str | None] = mapped_column(String(16))
    corrected_by: Mapped[str | None] = mapped_column(String(255))
    corrected_at: Mapped[datetime | None]

    review: Mapped[Review] = relationship(back_populates="sentiment")


class Triage(Base):
    """A review's place in the response queue."""

    __tablename__ = "triage"
    __table_args__ = (
        Index("ix_triage_status_due", "status", "due_at"),
        Index("ix_triage_updated_at", "updated_at"),
    )

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="new")
    assignee: Mapped[str | None] = mapped_column(String(255), index=True)
    due_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    response_text: Mapped[str | None] = mapped_column(
        Text, doc="the reply that was posted, or pasted when marked responded"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    review: Mapped[Review] = relationship(back_populates="triage")
    events: Mapped[list[TriageEvent]] = relationship(
        cascade="all, delete-orphan", order_by="TriageEvent.id"
    )


class TriageEvent(Base):
    """Who changed what in the queue and when: the history a support lead audits."""

    __tablename__ = "triage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("triage.review_id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """The outbox: one row per (rule, review, channel), so nothing is ever sent twice.

    Alerts about no single review (a spike, a digest) have no ``review_id``; for them ``key``
    (e.g. ``digest:2026-11-24``) is what is unique per (rule, channel). ``lease_until`` is set
    while a worker is sending, see ``pipeline/alerts.py``.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule", "review_id", "channel", name="uq_alerts_rule_review_channel"),
        UniqueConstraint("rule", "channel", "key", name="uq_alerts_rule_channel_key"),
        Index("ix_alerts_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160), doc="review:ID, or what a spike/digest is about")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="the message, as queued")
    lease_until: Mapped[datetime | None] = mapped_column(doc="a sender holds it until then")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    delivered_to: Mapped[list[Any]] = mapped_column(
        default=list, doc="email recipients that accepted it: a retry skips them"
    )


class Erasure(Base):
    """A person who asked to be forgotten: later crawls store their reviews without the name.

    Only a hash of the name is kept; a list of erased names would itself be personal data."""

    __tablename__ = "erasures"
    __table_args__ = (UniqueConstraint("author_hash", "platform", name="uq_erasures_author"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_hash: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(32), doc="None: every platform")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrawlRun(Base):
    """One run of a spider or API client: what it saw, what it stored, and how it went.

    ``outcomes`` counts pages by what happened to them (``ok``, ``empty``, ``http_404``,
    ``parse_error``, ``blocked``, ``refused``, ``network``, ...); ``complete`` says every page was
    fetched and parsed up to the end or to the incremental stop, which is what lets the next run
    trust that stop. A ``running`` row whose ``heartbeat_at`` goes stale belonged to a process that
    died: it is marked ``interrupted`` when next seen.
    """

    __tablename__ = "crawl_runs"
    __table_args__ = (
        Index("ix_crawl_runs_source_started", "source", "started_at"),
        Index("ix_crawl_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64), doc="spider or client name")
    platform: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(Text, doc="start URL or API target")
    location_key: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    items: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    platform_total: Mapped[int | None] = mapped_column(Integer, doc="review count the site claims")
    platform_rating: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="running")
    error_log: Mapped[list[Any]] = mapped_column(default=list, doc="first error messages")
    rejected: Mapped[int] = mapped_column(Integer, default=0, doc="items refused by validation")
    pages_failed: Mapped[int] = mapped_column(Integer, default=0)
    outcomes: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="pages per outcome")
    full: Mapped[bool] = mapped_column(default=False, doc="paged past stored reviews")
    complete: Mapped[bool] = mapped_column(default=False, doc="every page fetched and parsed")
    owner: Mapped[str | None] = mapped_column(String(128), doc="host:pid of the process")
    heartbeat_at: Mapped[datetime | None] = mapped_column(doc="last sign of life of the process")


class SourceSchedule(Base):
    """When each configured source is next due, and which `revmon run` process holds it now.

    Several service processes on several machines share one database; a source is collected by
    the one that takes its lease, once per interval."""

    __tablename__ = "source_schedule"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_due_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16))


class UserCredential(Base):
    """A dashboard password hash revmon upgraded itself (stronger scrypt parameters), kept here
    because ``revmon.toml`` is the admin's file. It counts only while the configured hash it
    replaced is still the configured one: when the admin sets a new password, the file wins."""

    __tablename__ = "user_credentials"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    replaces: Mapped[str] = mapped_column(String(64), doc="sha256 of the configured hash")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# Derived tables (embeddings, rollups, incidents, topics) live in their own module; importing it
# here registers them on Base.metadata wherever the models are loaded.
from pipeline import insight_models as _insight_models  # noqa: E402, F401
