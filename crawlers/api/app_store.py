"""Apple App Store customer reviews, from the public RSS feed in its JSON form.

TARGET is ``cc/appId`` (``pl/987654321``; ``pl/id987654321`` works too). The feed serves 50
reviews a page, at most 10 pages (500 reviews per country), newest first; a short page is the
last. Every value is wrapped as ``{"label": ...}``; ``entry`` is a single object when a page has
one review, and the first entry of old feeds describes the app itself (it has no rating: skipped).
There is no reply API: answer in App Store Connect, reached from the review's URL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from crawlers.api.base import ApiClient, Page
from crawlers.items import ReviewItem
from pipeline.text import plain_text

TARGET = re.compile(r"^(?P<cc>[A-Za-z]{2})/(?:id)?(?P<app>\d+)$")
PAGE_SIZE = 50
LAST_PAGE = 10


class AppStoreClient(ApiClient):
    """Reviews of one app in one country's store."""

    name = "app_store"
    platform = "app_store"
    default_base_url = "https://itunes.apple.com"
    target_example = "pl/987654321"

    async def pages(self, target: str) -> AsyncIterator[Page]:
        match = TARGET.match(target.strip())
        if not match:
            raise self.bad_target(target, "COUNTRY/APP_ID")
        country, app = match["cc"].lower(), match["app"]
        fetched_at = datetime.now(UTC).isoformat()
        for number in range(1, min(LAST_PAGE, self.max_pages) + 1):
            path = f"/{country}/rss/customerreviews/page={number}/id={app}/sortby=mostrecent/json"
            payload = self.expect(await self.get_json(path), dict, "feed page")
            feed = self.expect(payload.get("feed"), dict, "feed")
            entries = feed.get("entry", [])
            entries = [entries] if isinstance(entries, dict) else entries
            entries = self.expect(entries, list, "feed.entry")
            reviews = [e for e in entries if not (isinstance(e, dict) and "im:name" in e)]
            items, errors = self.map_records(
                reviews, lambda e: self.to_item(e, country, app, fetched_at)
            )
            yield Page(items, errors)
            if len(reviews) < PAGE_SIZE:
                return

    def to_item(self, entry: dict[str, Any], country: str, app: str, fetched_at: str) -> ReviewItem:
        """``updated`` can be missing: the time of the fetch is then the best bound we have."""
        return ReviewItem(
            platform=self.platform,
            external_id=label(entry, "id"),
            url=f"https://apps.apple.com/{country}/app/id{app}?see-all=reviews",
            text=plain_text(label(entry, "content")),
            published_at=_optional_label(entry, "updated") or fetched_at,
            author=entry.get("author", {}).get("name", {}).get("label"),
            rating=float(label(entry, "im:rating")),
            title=plain_text(_optional_label(entry, "title")) or None,
            raw=entry,
        )


def label(entry: dict[str, Any], key: str) -> str:
    """The value of ``{"key": {"label": value}}``; KeyError when the field is missing."""
    return str(entry[key]["label"])


def _optional_label(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return str(value["label"]) if isinstance(value, dict) and "label" in value else None
