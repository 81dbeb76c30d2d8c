"""The one item shape every spider and API client yields (see ARCHITECTURE.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReviewItem:
    """A review or mention as the source shows it, before the pipeline validates it.

    Dates are ISO 8601 strings; ``rating`` is already on the 1..5 scale; ``raw`` keeps the source's
    own record so that a better parser can reprocess it later without a re-crawl.
    """

    platform: str
    external_id: str
    url: str
    text: str
    published_at: str
    kind: str = "review"
    location_key: str | None = None
    author: str | None = None
    rating: float | None = None
    title: str | None = None
    language: str | None = None
    reply_text: str | None = None
    reply_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    published_estimated: bool = False  # no date on the source: published_at is the fetch time
    removed: bool = False  # the platform took the text down ("[removed]"): text is empty


def stable_id(url: str, author: str | None, published_at: str, text: str) -> str:
    """An id for platforms that give none: the same post always hashes to the same id."""
    key = "\x1f".join([url, author or "", published_at, text])
    return "h" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
