"""Replies that go back to the platform, where the platform has an API for them.

Today that is the Google Business Profile (``updateReply``). Another platform joins by giving its
client an ``async post_reply(raw, text) -> PostedReply`` and adding a line to ``REPLY_CLIENTS``:
Trustpilot's business API and the app stores' (App Store Connect, Play ``reviews.reply``) fit
that shape. Everywhere else the review's URL is the way to answer, and :class:`ReplyNotSupported`
says so with the URL.

On success the reply is stored on the review the way the next crawl will see it (text, time,
content hash, the previous version kept as a revision), so that crawl finds nothing changed, and
triage records who answered and when.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from crawlers.api.base import PostedReply
from crawlers.api.errors import ReplyNotSupported
from crawlers.sources import api_client, reply_kind
from pipeline.config import Settings
from pipeline.ingest import revision_of
from pipeline.models import Review
from pipeline.normalize import normalize
from pipeline.triage import mark_responded


def supports_reply(platform: str) -> bool:
    """Whether revmon can post replies for ``platform`` (a review platform or a client name):
    some API client in the source registry declares a ``post_reply`` for it."""
    return reply_kind(platform) is not None


def post_reply(settings: Settings, session: Session, review_id: int, text: str, actor: str) -> None:
    """Post ``text`` as the business's reply to review ``review_id`` and mark it responded.

    Raises LookupError for an unknown id, ReplyNotSupported (with the URL to answer at),
    ReplyTooLong before sending anything, AuthError or ReplyRejected from the platform.
    """
    review = session.get(Review, review_id)
    if review is None:
        raise LookupError(f"no review with id {review_id}")
    kind = reply_kind(review.platform)
    if kind is None:
        raise ReplyNotSupported(
            review.platform, "the platform has no reply API", f"answer it at {review.url}"
        )
    try:
        posted = asyncio.run(_post(kind.name, settings, review.raw, text))
    except ReplyNotSupported as exc:
        raise ReplyNotSupported(exc.platform, exc.message, f"answer it at {review.url}") from None
    now = datetime.now(UTC)
    store_reply(session, review, posted, now)
    mark_responded(session, review_id, at=now, actor=actor, text=posted.text or text)


async def _post(name: str, settings: Settings, raw: dict[str, Any], text: str) -> PostedReply:
    async with api_client(name)(settings) as client:
        return await client.post_reply(raw, text)  # type: ignore[attr-defined, no-any-return]


def store_reply(session: Session, review: Review, posted: PostedReply, now: datetime) -> None:
    """Put the posted reply on the review, normalised exactly as a crawl would store it."""
    clean = normalize(
        {
            "platform": review.platform,
            "external_id": review.external_id,
            "kind": review.kind,
            "url": review.url,
            "title": review.title,
            "text": review.text,
            "rating": review.rating,
            "language": review.language,
            "published_at": review.published_at,
            "reply_text": posted.text,
            "reply_at": posted.at or now,
        }
    )
    if clean.content_hash == review.content_hash:
        return
    session.add(revision_of(review, now))
    review.reply_text = clean.reply_text
    review.reply_at = clean.reply_at
    review.content_hash = clean.content_hash
    review.changed_at = now
    session.flush()
