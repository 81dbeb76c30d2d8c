"""Idempotent ingestion: a batch of ReviewItems in, one row per (platform, external_id) out.

A re-crawl stores no duplicates (the dialect's ``INSERT .. ON CONFLICT DO UPDATE``); an edit, seen
through the content hash, keeps the previous version in ``review_revisions``; ``last_seen`` always
moves. A bad item is logged and counted and never stops the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pipeline.models import Review, ReviewRevision, utcnow
from pipeline.normalize import CleanReview, InvalidItem, normalize
from pipeline.privacy import apply_erasures

log = logging.getLogger(__name__)

# SQLite allows 32,766 bound parameters per statement and a review row binds 18.
CHUNK = 1000
STORED_COLUMNS = (
    "id", "platform", "external_id", "title", "text", "rating", "reply_text", "reply_at",
    "content_hash", "first_seen", "changed_at",
)  # fmt: skip
UPDATED_ON_CONFLICT = (
    "kind", "location_key", "url", "author", "rating", "title", "text", "language",
    "reply_text", "reply_at", "raw", "content_hash", "last_seen", "changed_at",
)  # fmt: skip


@dataclass
class IngestResult:
    """Counts for one batch; added onto a crawl run by the caller."""

    received: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors += other.errors
        self.error_messages.extend(other.error_messages)


def ingest_items(
    session: Session, items: Iterable[Any], now: datetime | None = None
) -> IngestResult:
    """Validate and upsert ``items``; return what happened. The caller owns the transaction."""
    result = IngestResult()
    clean: list[CleanReview] = []
    for item in items:
        result.received += 1
        try:
            review = normalize(item)
        except InvalidItem as exc:
            result.errors += 1
            result.error_messages.append(f"{_describe(item)}: {exc}")
            log.warning("rejected item %s: %s", _describe(item), exc)
            continue
        clean.append(review)
    upsert_reviews(session, clean, result, now)
    return result


def upsert_reviews(
    session: Session,
    reviews: Sequence[CleanReview],
    result: IngestResult,
    now: datetime | None = None,
) -> IngestResult:
    """Upsert already validated reviews, adding the new/updated/unchanged counts to ``result``."""
    unique = list({(r.platform, r.external_id): r for r in reviews}.values())  # last copy wins
    unique = apply_erasures(session, unique)
    for start in range(0, len(unique), CHUNK):
        _upsert_chunk(session, unique[start : start + CHUNK], now or utcnow(), result)
    return result


def _describe(item: Any) -> str:
    get = item.get if isinstance(item, dict) else lambda key: getattr(item, key, None)
    return f"{get('platform')}/{get('external_id')}"


def _upsert_chunk(
    session: Session, chunk: Sequence[CleanReview], now: datetime, result: IngestResult
) -> None:
    existing = _existing(session, chunk)
    revisions = []
    for review in chunk:
        stored = existing.get((review.platform, review.external_id))
        if stored is None:
            result.new += 1
        elif stored.content_hash == review.content_hash:
            result.unchanged += 1
        else:
            result.updated += 1
            revisions.append(revision_of(stored, now))
    rows = [_row(review, existing, now) for review in chunk]
    # executemany with one cached statement: SQLAlchemy batches it into multi-row INSERTs itself
    session.connection().execute(_upsert_statement(session), rows)
    if revisions:
        session.add_all(revisions)
        session.flush()


def _existing(session: Session, chunk: Sequence[CleanReview]) -> dict[tuple[str, str], Row[Any]]:
    """The stored versions, read as plain rows: the upsert below bypasses the ORM identity map."""
    keys = [(review.platform, review.external_id) for review in chunk]
    columns = [getattr(Review, name) for name in STORED_COLUMNS]
    query = select(*columns).where(tuple_(Review.platform, Review.external_id).in_(keys))
    return {(row.platform, row.external_id): row for row in session.execute(query)}


def _row(
    review: CleanReview, existing: dict[tuple[str, str], Row[Any]], now: datetime
) -> dict[str, Any]:
    row = review.row()
    stored = existing.get((review.platform, review.external_id))
    row["first_seen"] = now
    row["last_seen"] = now
    if stored is None:
        row["changed_at"] = None
    elif stored.content_hash != review.content_hash:
        row["changed_at"] = now
    else:
        row["changed_at"] = stored.changed_at
    return row


def revision_of(stored: Row[Any] | Review, now: datetime) -> ReviewRevision:
    """The stored version of a review as a revision row, before an edit replaces it."""
    return ReviewRevision(
        review_id=stored.id,
        title=stored.title,
        text=stored.text,
        rating=stored.rating,
        reply_text=stored.reply_text,
        reply_at=stored.reply_at,
        content_hash=stored.content_hash,
        seen_from=stored.changed_at or stored.first_seen,
        replaced_at=now,
    )


def _upsert_statement(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise RuntimeError(f"revmon supports SQLite and PostgreSQL, not {dialect}")
    statement = insert(Review.__table__)
    excluded = statement.excluded
    updates = {name: getattr(excluded, name) for name in UPDATED_ON_CONFLICT}
    # A review is as old as the earliest date seen for it: sources that show an edit time, or
    # none (App Store entries without `updated` fall back to the fetch time), must not make an
    # old review jump forward in the trends.
    table = Review.__table__.c
    updates["published_at"] = case(
        (excluded.published_at < table.published_at, excluded.published_at),
        else_=table.published_at,
    )
    return statement.on_conflict_do_update(
        index_elements=[Review.platform, Review.external_id], set_=updates
    )


def stored_hashes(session: Session, platform: str, external_ids: Iterable[str]) -> dict[str, str]:
    """Content hashes already stored, for incremental crawls that stop at known reviews."""
    ids = list(external_ids)
    query = select(Review.external_id, Review.content_hash).where(
        Review.platform == platform, Review.external_id.in_(ids)
    )
    return {external_id: content_hash for external_id, content_hash in session.execute(query)}
