"""Erasure of personal data on request (GDPR art. 17 and the like).

Author names are personal data. revmon stores only what a platform shows publicly, but a person
may still ask to be forgotten. A name does not stay in ``reviews.author``: it is copied into the
source record (``raw``), into alert payloads, into reply drafts and notes, into earlier versions
of a review, and other people's reviews may mention it. So ``erase_author`` does not list the
places by hand: it takes every text and JSON column of every table (from the models' metadata,
so a table added later is covered) and replaces the exact name wherever it appears, at any depth
of a JSON value. With ``platform`` it touches only the rows about that person's reviews there.
``--delete`` removes the person's reviews with everything attached, then scrubs the rest.

Identifiers are left alone (primary and unique keys, content hashes): a name there would be a
platform's id, and changing it would make the next crawl store the review again. The
``content_hash`` of a scrubbed review still describes the platform's version, so the next crawl
sees it unchanged and does not bring the name back; ``apply_erasures`` keeps the name out of
what later crawls store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import JSON, Column, String, Table, Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from pipeline.models import Base, Erasure, Review
from pipeline.normalize import CleanReview

ERASED = "[erased]"
KEPT_TABLES = frozenset({"erasures"})  # holds only hashes of erased names
REVIEW_LINKED = ("review_id",)  # the column that ties a row to a review


@dataclass
class Erased:
    """What one erasure touched: the person's reviews, and other stored values that held it."""

    reviews: int = 0
    deleted: int = 0
    elsewhere: int = 0


def erase_author(
    session: Session, author: str, *, platform: str | None = None, delete_reviews: bool = False
) -> Erased:
    """Forget ``author`` (exact display name) on one platform or all; returns what was touched."""
    if not author.strip():
        raise ValueError("give the exact author name to erase")
    _remember(session, author, platform)
    query = select(Review.id).where(Review.author == author)
    if platform:
        query = query.where(Review.platform == platform)
    ids = list(session.scalars(query))
    done = Erased(reviews=len(ids))
    if delete_reviews:
        session.execute(delete(Review).where(Review.id.in_(ids)))
        done.deleted = len(ids)
    else:
        session.execute(update(Review).where(Review.id.in_(ids)).values(author=None))
    session.flush()
    scope = None if platform is None else ids
    done.elsewhere = sum(_scrub_table(session, t, author, scope) for t in _tables())
    session.expire_all()  # the ORM's copies of scrubbed rows are stale now
    return done


def author_hash(author: str) -> str:
    return hashlib.sha256(author.strip().encode("utf-8")).hexdigest()


def _remember(session: Session, author: str, platform: str | None) -> None:
    """Keep the wish, so the next crawl does not bring the name back."""
    digest = author_hash(author)
    known = session.scalar(
        select(Erasure.id).where(
            Erasure.author_hash == digest,
            Erasure.platform.is_(None) if platform is None else Erasure.platform == platform,
        )
    )
    if known is None:
        session.add(Erasure(author_hash=digest, platform=platform))


def apply_erasures(session: Session, reviews: Sequence[CleanReview]) -> list[CleanReview]:
    """Incoming reviews with erased authors' names removed (the ingest path calls this): from
    the author field, the source record, the title, the text and the reply. The content hash
    stays the platform version's, so an unchanged review is seen as unchanged."""
    rows = session.execute(select(Erasure.author_hash, Erasure.platform))
    wishes = {(digest, platform) for digest, platform in rows}
    if not wishes:
        return list(reviews)
    return [
        _without_author(review)
        if review.author and _erased(review.author, review.platform, wishes)
        else review
        for review in reviews
    ]


def _without_author(review: CleanReview) -> CleanReview:
    name = review.author or ""
    clean = replace(
        review,
        author=None,
        raw=scrub(review.raw, name),
        title=scrub(review.title, name),
        text=scrub(review.text, name),
        reply_text=scrub(review.reply_text, name),
    )
    clean.__dict__["content_hash"] = review.content_hash  # cached_property: the platform's
    return clean


def _erased(author: str, platform: str, wishes: set[tuple[str, str | None]]) -> bool:
    digest = author_hash(author)
    return (digest, None) in wishes or (digest, platform) in wishes


def scrub(value: Any, name: str) -> Any:
    """``value`` with every string equal to or containing ``name`` replaced, at any depth
    (dictionary keys included)."""
    if isinstance(value, dict):
        return {scrub(key, name): scrub(item, name) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, name) for item in value]
    if isinstance(value, str) and name in value:
        return value.replace(name, ERASED)
    return value


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES]


def _scrubbable(table: Table) -> list[Column[Any]]:
    """Text and JSON columns that are not identifiers."""
    keys = {c.name for k in table.constraints if hasattr(k, "columns") for c in k.columns}
    return [
        column
        for column in table.columns
        if isinstance(column.type, String | JSON)
        and not (column.name in keys or column.unique or column.primary_key)
        and not column.name.endswith("_hash")
    ]


def _scrub_table(session: Session, table: Table, name: str, scope: list[int] | None) -> int:
    """Replace ``name`` in every text/JSON cell of ``table`` (only rows about the reviews in
    ``scope`` when given); returns how many cells changed."""
    columns = _scrubbable(table)
    if not columns:
        return 0
    escaped = json.dumps(name)[1:-1]  # how a JSON column stores a non-ASCII name
    found = []
    for column in columns:
        if isinstance(column.type, JSON):
            as_text = cast(column, Text)
            found += [as_text.contains(name, autoescape=True)]
            found += [as_text.contains(escaped, autoescape=True)]
        else:
            found.append(column.contains(name, autoescape=True))
    query = select(*table.primary_key.columns, *columns).where(or_(*found))
    if scope is not None:
        link = next((table.c[c] for c in REVIEW_LINKED if c in table.c), None)
        if table.name == Review.__tablename__:
            query = query.where(table.c.id.in_(scope))
        elif link is not None:
            query = query.where(link.in_(scope))
        else:
            return 0  # not about one review: only a global erasure touches it
    keys = [c.name for c in table.primary_key.columns]
    changed = 0
    for row in session.execute(query).mappings().all():
        values = {c.name: scrub(row[c.name], name) for c in columns}
        values = {key: value for key, value in values.items() if value != row[key]}
        if values:
            where = [table.c[key] == row[key] for key in keys]
            session.execute(update(table).where(*where).values(**values))
            changed += len(values)
    return changed
