"""Yelp Fusion: up to three review excerpts of a business, newest first.

TARGET is the business id or alias (``acme-coffee-san-francisco``); the key is
``REVMON_YELP_API_KEY``. ``time_created`` is US Pacific wall time without an offset, so it is
read in America/Los_Angeles (daylight saving included) and stored as UTC. Yelp has no reply API:
the review URL is the way to answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from crawlers.api.base import ApiClient, Page
from crawlers.items import ReviewItem

BUSINESS = re.compile(r"^[A-Za-z0-9_-]+$")
PACIFIC = ZoneInfo("America/Los_Angeles")


class YelpClient(ApiClient):
    """Review excerpts (Yelp gives three) plus the business's review total."""

    name = "yelp"
    platform = "yelp"
    credentials = ("yelp_api_key",)
    default_base_url = "https://api.yelp.com"
    target_example = "acme-coffee-san-francisco"
    auth_fix = "set REVMON_YELP_API_KEY to a valid Yelp Fusion API key"

    async def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('yelp_api_key', 'Yelp API key')}"}

    async def pages(self, target: str) -> AsyncIterator[Page]:
        business = target.strip()
        if not BUSINESS.match(business):
            raise self.bad_target(target, "a business id or alias")
        payload = self.expect(
            await self.get_json(
                f"/v3/businesses/{business}/reviews", params={"limit": 20, "sort_by": "newest"}
            ),
            dict,
            "reviews page",
        )
        reviews = self.expect(payload.get("reviews", []), list, "reviews")
        items, errors = self.map_records(reviews, self.to_item)
        yield Page(items, errors, total=payload.get("total"))

    def to_item(self, review: dict[str, Any]) -> ReviewItem:
        return ReviewItem(
            platform=self.platform,
            external_id=review["id"],
            url=review["url"],
            text=review.get("text") or "",
            published_at=pacific_to_iso(review["time_created"]),
            author=(review.get("user") or {}).get("name"),
            rating=float(review["rating"]),
            raw=review,
        )


def pacific_to_iso(value: str) -> str:
    """``"2016-08-29 00:41:13"`` in US Pacific time as ISO 8601 with its real offset."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PACIFIC).isoformat()
