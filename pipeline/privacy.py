"""Erasure of personal data on request (GDPR art. 17 and the like).

Author names are personal data. revmon stores only what a platform shows publicly, but a person
may still ask to be forgotten: ``erase_author`` removes the name from the review rows and from the
source records kept in ``raw`` (wherever the exact name appears as a value), or deletes the
person's reviews outright with everything attached to them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline.models import Erasure, Review
from pipeline.normalize import CleanReview

ERASED = "[erased]"


@dataclass
class Erased:
    """What one erasure touched."""

    reviews: int = 0
    deleted: int = 0


def erase_author(
    session: Session, author: str, *, platform: str | None = None, delete_reviews: bool = False
) -> Erased:
    """Forget ``author`` (exact display name) on one platform or all; returns what was touched."""
    if not author.strip():
        raise ValueError("give the exact author name to erase")
    _remember(session, author, platform)
    query = select(Review).where(Review.author == author)
    if platform:
        query = query.where(Review.platform == platform)
    reviews = session.scalars(query).all()
    if delete_reviews:
        ids = [review.id for review in reviews]
        session.execute(delete(Review).where(Review.id.in_(ids)))
        return Erased(reviews=len(ids), deleted=len(ids))
    for review in reviews:
        review.author = None
        review.raw = scrub(review.raw, author)
    session.flush()
    return Erased(reviews=len(reviews))


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
    """Incoming reviews with erased authors' names removed (the ingest path calls this)."""
    rows = session.execute(select(Erasure.author_hash, Erasure.platform))
    wishes = {(digest, platform) for digest, platform in rows}
    if not wishes:
        return list(reviews)
    return [
        replace(review, author=None, raw=scrub(review.raw, review.author))
        if review.author and _erased(review.author, review.platform, wishes)
        else review
        for review in reviews
    ]


def _erased(author: str, platform: str, wishes: set[tuple[str, str | None]]) -> bool:
    digest = author_hash(author)
    return (digest, None) in wishes or (digest, platform) in wishes


def scrub(value: Any, name: str) -> Any:
    """``value`` with every string equal to or containing ``name`` replaced, at any depth."""
    if isinstance(value, dict):
        return {key: scrub(item, name) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, name) for item in value]
    if isinstance(value, str) and name in value:
        return value.replace(name, ERASED)
    return value
