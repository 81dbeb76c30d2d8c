"""Erasure of personal data on request (GDPR art. 17 and the like).

Author names are personal data. revmon stores only what a platform shows publicly, but a person
may still ask to be forgotten: ``erase_author`` removes the name from the review rows and from the
source records kept in ``raw`` (wherever the exact name appears as a value), or deletes the
person's reviews outright with everything attached to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pipeline.models import Review

ERASED = "[erased]"


@dataclass
class Erasure:
    reviews: int = 0
    deleted: int = 0


def erase_author(
    session: Session, author: str, *, platform: str | None = None, delete_reviews: bool = False
) -> Erasure:
    """Forget ``author`` (exact display name) on one platform or all; returns what was touched."""
    if not author.strip():
        raise ValueError("give the exact author name to erase")
    query = select(Review).where(Review.author == author)
    if platform:
        query = query.where(Review.platform == platform)
    reviews = session.scalars(query).all()
    if delete_reviews:
        ids = [review.id for review in reviews]
        session.execute(delete(Review).where(Review.id.in_(ids)))
        return Erasure(reviews=len(ids), deleted=len(ids))
    for review in reviews:
        review.author = None
        review.raw = scrub(review.raw, author)
    session.flush()
    return Erasure(reviews=len(reviews))


def scrub(value: Any, name: str) -> Any:
    """``value`` with every string equal to or containing ``name`` replaced, at any depth."""
    if isinstance(value, dict):
        return {key: scrub(item, name) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, name) for item in value]
    if isinstance(value, str) and name in value:
        return value.replace(name, ERASED)
    return value
