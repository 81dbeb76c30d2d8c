"""Mastodon mentions: the public timeline of one hashtag on one instance.

TARGET is the tag (``acmecoffee`` or ``#acmecoffee``); the instance is the base URL
(``REVMON_API__BASE_URLS__MASTODON``, default mastodon.social). Pages follow the
``Link: rel="next"`` header, 40 statuses each. The id is the status ``uri``, the same on every
instance, so a post seen through two instances is one mention. ``content`` is HTML; it is
reduced to text here with the pipeline's ``html_to_text``. The ``language`` field is set by
the poster's app and often wrong, so it is left for the pipeline to detect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from crawlers.api.base import ApiClient, Page
from crawlers.items import ReviewItem
from pipeline.text import html_to_text, plain_text

PAGE_SIZE = 40


class MastodonClient(ApiClient):
    """Statuses tagged with a hashtag, newest first."""

    name = "mastodon"
    platform = "mastodon"
    credentials = ("mastodon_access_token",)
    default_base_url = "https://mastodon.social"
    target_example = "acmecoffee"
    auth_fix = "set REVMON_MASTODON_ACCESS_TOKEN to a valid token, or unset it (tags are public)"

    async def auth_headers(self) -> dict[str, str]:
        token = self.settings.mastodon_access_token
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    async def pages(self, target: str) -> AsyncIterator[Page]:
        tag = target.strip().lstrip("#")
        if not tag or any(c.isspace() for c in tag):
            raise self.bad_target(target, "one hashtag")
        url = f"/api/v1/timelines/tag/{quote(tag)}"
        params: dict[str, Any] | None = {"limit": PAGE_SIZE}
        for _ in range(self.max_pages):
            response = await self.send("GET", url, params=params)
            statuses = self.expect(self.decode(response), list, "timeline")
            items, errors = self.map_records(statuses, self.to_item)
            yield Page(items, errors)
            following = response.links.get("next", {}).get("url")
            if not statuses or not following or following == url:
                return
            url, params = following, None

    def to_item(self, status: dict[str, Any]) -> ReviewItem | None:
        if status.get("reblog"):
            return None  # a boost repeats a status seen on its own
        account = status.get("account") or {}
        return ReviewItem(
            platform=self.platform,
            external_id=status["uri"],
            kind="mention",
            url=status.get("url") or status["uri"],
            text=html_to_text(status["content"]),
            title=plain_text(status.get("spoiler_text")) or None,
            published_at=status["created_at"],
            author=account.get("display_name") or account.get("acct"),
            raw=status,
        )
