"""Reddit mentions: ``/search.json`` sorted by new, 100 a page, following the ``after`` cursor.

TARGET is the search query (``"acme coffee"``). Posts (``t3``) and comments (``t1``) become
``mention`` items keyed by their fullname (``t3_abc``), which Reddit never reuses. A text Reddit
replaced by ``[removed]``, ``[deleted]`` or ``[ Removed by Reddit ]`` is stored as no text with
``removed`` set (the store keeps the real text it saw before); a crosspost carries the original
post's text. ``raw_json=1`` asks for text as typed (no ``&lt;`` escaping). Reddit asks for
a descriptive User-Agent (``REVMON_USER_AGENT``) and rate-limits by ``x-ratelimit-*`` headers,
which the shared client honours.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from crawlers.api.base import ApiClient, Page, unix_to_iso
from crawlers.items import ReviewItem
from pipeline.text import plain_text

PAGE_SIZE = 100
SITE = "https://www.reddit.com"
GONE = {"[deleted]", "[removed]"}
# What Reddit puts where a removed text was: "[removed]" (moderators), "[deleted]" (the author),
# "[ Removed by Reddit ]" (admins, sometimes with the reason after it).
PLACEHOLDER = re.compile(r"^\[(?:removed|deleted|\s*removed by reddit\b[^\]]*)\]$", re.IGNORECASE)


class RedditClient(ApiClient):
    """Newest posts and comments matching a query, across all of Reddit."""

    name = "reddit"
    platform = "reddit"
    default_base_url = SITE
    target_example = "acme coffee"

    async def pages(self, target: str) -> AsyncIterator[Page]:
        query = target.strip()
        if not query:
            raise self.bad_target(target, "a search query")
        params: dict[str, Any] = {"q": query, "sort": "new", "limit": PAGE_SIZE, "raw_json": 1}
        for _ in range(self.max_pages):
            listing = self.expect(
                await self.get_json("/search.json", params=params), dict, "listing"
            )
            data = self.expect(listing.get("data"), dict, "listing.data")
            children = self.expect(data.get("children", []), list, "listing.data.children")
            items, errors = self.map_records(children, self.to_item)
            yield Page(items, errors)
            after = data.get("after")
            if not after or not children or after == params.get("after"):
                return
            params["after"] = after

    def to_item(self, child: dict[str, Any]) -> ReviewItem | None:
        kind, data = child["kind"], child["data"]
        if kind == "t3":
            title, text = data["title"], data.get("selftext") or crossposted_text(data)
        elif kind == "t1":
            title, text = data.get("link_title"), data["body"]
        else:
            return None  # subreddits, users, "more" stubs: not mentions
        author = data.get("author")
        removed = is_placeholder(text)
        return ReviewItem(
            platform=self.platform,
            external_id=data["name"],
            kind="mention",
            url=SITE + urlsplit(data["permalink"]).path,
            text="" if removed else plain_text(text),
            title=plain_text(title) or None,
            published_at=unix_to_iso(data["created_utc"]),
            author=None if author in GONE else author,
            removed=removed,
            raw=data,
        )


def is_placeholder(text: str) -> bool:
    """True for the words Reddit leaves where a removed or deleted text was."""
    return bool(PLACEHOLDER.match(text.strip()))


def crossposted_text(post: dict[str, Any]) -> str:
    """A crosspost has no text of its own: the text is the original post's, which Reddit's
    listing JSON carries in ``crosspost_parent_list[0]``."""
    parents = post.get("crosspost_parent_list")
    if isinstance(parents, list) and parents and isinstance(parents[0], dict):
        return str(parents[0].get("selftext") or "")
    return ""
