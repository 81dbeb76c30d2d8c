"""Idempotent ingestion: a batch of ReviewItems in, one row per review out.

- A re-crawl stores no duplicates (the dialect's ``INSERT .. ON CONFLICT DO UPDATE`` on
  ``(platform, external_id)``), and an edit, seen through the content hash, keeps the previous
  version in ``review_revisions``; ``last_seen`` always moves.
- One review, one row: on platforms that several collectors read (``SHARED_PLATFORMS``), a review
  that arrives under an id the store does not know is matched by author and text (within two days)
  to the stored one, and the new id is kept as an alias, so later crawls land on the same row.
- One bad item never sinks the rest: items are validated first (``InvalidItem``), and a chunk the
  database refuses is retried item by item, each in its own savepoint, so only the offending item
  is rejected (with the database's reason). A lost connection is not an item's fault: it is raised
  for the caller to retry the whole batch on a fresh connection.
- Concurrent writers: on PostgreSQL the stored versions are read ``FOR UPDATE`` (in id order, so
  two writers never deadlock), so a second process storing the same edit waits, then sees the
  first one's version, and every distinct version lands in the history exactly once.
- A platform's "[removed]" placeholder (``removed``) never overwrites the text the author wrote.
- A date the source did not give (``published_estimated``) gives way to a real one; otherwise a
  review is as old as the earliest date seen for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.orm import Session

from pipeline.models import Review, ReviewAlias, ReviewRevision, utcnow
from pipeline.normalize import CleanReview, InvalidItem, normalize
from pipeline.platforms import SHARED_PLATFORMS
from pipeline.privacy import apply_erasures

log = logging.getLogger(__name__)

# SQLite allows 32,766 bound parameters per statement and a review row binds 21.
CHUNK = 1000
STORED_COLUMNS = (
    "id", "platform", "external_id", "title", "text", "rating", "reply_text", "reply_at",
    "content_hash", "first_seen", "changed_at", "published_at", "identity_key",
)  # fmt: skip
UPDATED_ON_CONFLICT = (
    "kind", "location_key", "url", "author", "rating", "title", "text", "language",
    "reply_text", "reply_at", "raw", "content_hash", "last_seen", "changed_at", "removed",
    "identity_key",
)  # fmt: skip
SAME_REVIEW_WITHIN = timedelta(days=2)
# What the database may refuse about one item's values; anything else (a lost connection, a
# locked SQLite file) concerns the whole batch and goes to the caller.
ITEM_ERRORS = (IntegrityError, DataError, ProgrammingError)


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

    def reject(self, what: str, reason: str) -> None:
        self.errors += 1
        self.error_messages.append(f"{what}: {reason}")
        log.warning("rejected item %s: %s", what, reason)


def validate_items(items: Iterable[Any], result: IngestResult) -> list[CleanReview]:
    """The items that pass validation; the others are counted on ``result`` with their reason."""
    clean: list[CleanReview] = []
    for item in items:
        result.received += 1
        try:
            clean.append(normalize(item))
        except InvalidItem as exc:
            result.reject(describe(item), str(exc))
    return clean


def ingest_items(
    session: Session, items: Iterable[Any], now: datetime | None = None
) -> IngestResult:
    """Validate and upsert ``items``; return what happened. The caller owns the transaction."""
    result = IngestResult()
    upsert_reviews(session, validate_items(items, result), result, now)
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
    moment = now or utcnow()
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        try:
            with session.begin_nested():
                result.add(_upsert_chunk(session, chunk, moment))
        except StatementError as exc:
            if not is_item_error(exc):
                raise
            _upsert_one_by_one(session, chunk, moment, result)
    return result


def is_item_error(exc: StatementError) -> bool:
    """Whether the database refused the values (one item's fault) rather than the connection."""
    if isinstance(exc, DBAPIError):
        return isinstance(exc, ITEM_ERRORS) and not exc.connection_invalidated
    return True  # a value the driver could not bind


def _upsert_one_by_one(
    session: Session, chunk: Sequence[CleanReview], now: datetime, result: IngestResult
) -> None:
    """The database refused a chunk: store each item alone, so only the bad one is rejected."""
    for review in chunk:
        try:
            with session.begin_nested():
                result.add(_upsert_chunk(session, [review], now))
        except StatementError as exc:
            if not is_item_error(exc):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            result.reject(f"{review.platform}/{review.external_id}", f"database: {reason}")


def describe(item: Any) -> str:
    """``platform/external_id`` of any item-like value, for error messages."""
    get = item.get if isinstance(item, dict) else lambda key: getattr(item, key, None)
    return f"{get('platform')}/{get('external_id')}"


def _upsert_chunk(session: Session, chunk: Sequence[CleanReview], now: datetime) -> IngestResult:
    result = IngestResult()
    existing = _existing(session, chunk)
    chunk = _resolve_aliases(session, chunk, existing)
    revisions = []
    for review in chunk:
        stored = existing.get((review.platform, review.external_id))
        if stored is None:
            result.new += 1
        elif stored.content_hash == _kept(review, stored).content_hash:
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
    return result


def _existing(session: Session, chunk: Sequence[CleanReview]) -> dict[tuple[str, str], Row[Any]]:
    """The stored versions, read as plain rows (the upsert below bypasses the ORM identity map),
    locked on PostgreSQL until the transaction ends, in id order."""
    keys = [(review.platform, review.external_id) for review in chunk]
    query = _stored_rows().where(tuple_(Review.platform, Review.external_id).in_(keys))
    rows = session.execute(_locked(session, query))
    return {(row.platform, row.external_id): row for row in rows}


def _stored_rows() -> Any:
    return select(*[getattr(Review, name) for name in STORED_COLUMNS]).order_by(Review.id)


def _locked(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(of=Review)
    return query


def _resolve_aliases(
    session: Session, chunk: Sequence[CleanReview], existing: dict[tuple[str, str], Row[Any]]
) -> list[CleanReview]:
    """Items under an id the store does not know, moved onto the stored review they are (known
    aliases first, then author and text on shared platforms); new aliases are recorded."""
    unknown = [
        r
        for r in chunk
        if r.platform in SHARED_PLATFORMS and (r.platform, r.external_id) not in existing
    ]  # fmt: skip  (aliases exist only where two collectors read one platform)
    if not unknown:
        return list(chunk)
    matches = _known_aliases(session, unknown)
    unmatched = [r for r in unknown if (r.platform, r.external_id) not in matches]
    matches.update(_same_identity(session, unmatched))
    if not matches:
        return list(chunk)
    for stored in matches.values():
        existing[(stored.platform, stored.external_id)] = stored
    _remember_aliases(session, matches)
    moved = [
        replace(review, external_id=matches[key].external_id)
        if (key := (review.platform, review.external_id)) in matches
        else review
        for review in chunk
    ]
    return list({(r.platform, r.external_id): r for r in moved}.values())


def _known_aliases(
    session: Session, reviews: Sequence[CleanReview]
) -> dict[tuple[str, str], Row[Any]]:
    platforms = {review.platform for review in reviews}
    aliases = dict(
        session.execute(
            select(ReviewAlias.external_id, ReviewAlias.review_id).where(
                ReviewAlias.platform.in_(platforms),
                ReviewAlias.external_id.in_([review.external_id for review in reviews]),
            )
        ).all()
    )
    if not aliases:
        return {}
    query = _stored_rows().where(Review.id.in_(set(aliases.values())))
    stored = {row.id: row for row in session.execute(_locked(session, query))}
    by_id = {(r.platform, r.external_id): r for r in reviews}
    return {
        key: stored[aliases[key[1]]]
        for key in by_id
        if key[1] in aliases
        and aliases[key[1]] in stored
        and stored[aliases[key[1]]].platform == key[0]
    }


def _same_identity(
    session: Session, reviews: Sequence[CleanReview]
) -> dict[tuple[str, str], Row[Any]]:
    """Stored reviews with the same author and text (identity key) and a date within two days."""
    candidates = [review for review in reviews if review.identity_key]
    if not candidates:
        return {}
    # the key hashes the platform too: the platform filter is there for the index
    query = _stored_rows().where(
        Review.platform.in_({review.platform for review in candidates}),
        Review.identity_key.in_([review.identity_key for review in candidates]),
    )
    by_identity: dict[str, list[Row[Any]]] = {}
    for row in session.execute(_locked(session, query)):
        by_identity.setdefault(row.identity_key, []).append(row)
    matches = {}
    for review in candidates:
        for row in by_identity.get(review.identity_key or "", []):
            if abs(row.published_at - review.published_at) <= SAME_REVIEW_WITHIN:
                matches[(review.platform, review.external_id)] = row
                break
    return matches


def _remember_aliases(session: Session, matches: dict[tuple[str, str], Row[Any]]) -> None:
    rows = [
        {"platform": platform, "external_id": external_id, "review_id": stored.id,
         "created_at": utcnow()}
        for (platform, external_id), stored in matches.items()
        if external_id != stored.external_id
    ]  # fmt: skip
    if rows:
        insert = _dialect_insert(session)(ReviewAlias.__table__)
        session.connection().execute(insert.on_conflict_do_nothing(), rows)


def _kept(review: CleanReview, stored: Row[Any] | None) -> CleanReview:
    """What to store for ``review``: a removed placeholder keeps the stored title and text."""
    if not review.removed or stored is None or not stored.text:
        return review
    return replace(review, title=stored.title, text=stored.text)


def _row(
    review: CleanReview, existing: dict[tuple[str, str], Row[Any]], now: datetime
) -> dict[str, Any]:
    stored = existing.get((review.platform, review.external_id))
    row = _kept(review, stored).row()
    row["first_seen"] = now
    row["last_seen"] = now
    if stored is None:
        row["changed_at"] = None
    elif stored.content_hash != row["content_hash"]:
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


def _dialect_insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise RuntimeError(f"revmon supports SQLite and PostgreSQL, not {dialect}")
    return insert


def _upsert_statement(session: Session) -> Any:
    statement = _dialect_insert(session)(Review.__table__)
    excluded = statement.excluded
    table = Review.__table__.c
    updates = {name: getattr(excluded, name) for name in UPDATED_ON_CONFLICT}
    # A review is as old as the earliest date seen for it: sources that show an edit time, or
    # none (App Store entries without `updated` fall back to the fetch time), must not make an
    # old review jump forward in the trends. A real date replaces an estimated one.
    real_date_arrives = and_(table.published_estimated, ~excluded.published_estimated)
    updates["published_at"] = case(
        (real_date_arrives, excluded.published_at),
        (excluded.published_at < table.published_at, excluded.published_at),
        else_=table.published_at,
    )
    updates["published_estimated"] = and_(table.published_estimated, excluded.published_estimated)
    return statement.on_conflict_do_update(
        index_elements=[Review.platform, Review.external_id], set_=updates
    )


def stored_hashes(session: Session, platform: str, external_ids: Iterable[str]) -> dict[str, str]:
    """Content hashes already stored, for incremental crawls that stop at known reviews.

    Ids a shared platform's second collector uses (aliases) count as stored under that id."""
    ids = list(external_ids)
    query = select(Review.external_id, Review.content_hash).where(
        Review.platform == platform, Review.external_id.in_(ids)
    )
    hashes = {external_id: content_hash for external_id, content_hash in session.execute(query)}
    aliased = (
        select(ReviewAlias.external_id, Review.content_hash)
        .join(Review, Review.id == ReviewAlias.review_id)
        .where(ReviewAlias.platform == platform, ReviewAlias.external_id.in_(ids))
    )
    hashes.update({external_id: digest for external_id, digest in session.execute(aliased)})
    return hashes
