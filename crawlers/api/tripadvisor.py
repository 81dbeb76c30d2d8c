"""TripAdvisor Content API: the latest reviews (about five) of a location, in one language.

TARGET is the location id, optionally with a language: ``1234567`` or ``1234567/pl`` (the API
returns only reviews in the language asked for; English by default). The key is
``REVMON_TRIPADVISOR_API_KEY``; TripAdvisor wants it in the query string, which revmon never logs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from crawlers.api.base import ApiClient, Page
from crawlers.items import ReviewItem
from pipeline.text import plain_text

TARGET = re.compile(r"^(?P<id>\d+)(?:/(?P<lang>[a-z]{2}(?:_[A-Z]{2})?))?$")


class TripAdvisorClient(ApiClient):
    """Recent reviews of one location, with the owner's response when there is one."""

    name = "tripadvisor"
    platform = "tripadvisor"
    credentials = ("tripadvisor_api_key",)
    default_base_url = "https://api.content.tripadvisor.com"
    target_example = "1234567/en"
    auth_fix = "set REVMON_TRIPADVISOR_API_KEY to a valid Content API key (and allow this host)"

    async def pages(self, target: str) -> AsyncIterator[Page]:
        match = TARGET.match(target.strip())
        if not match:
            raise self.bad_target(target, "LOCATION_ID or LOCATION_ID/LANGUAGE")
        key = self.secret("tripadvisor_api_key", "TripAdvisor API key")
        params = {"key": key, "language": match["lang"] or "en"}
        payload = self.expect(
            await self.get_json(f"/api/v1/location/{match['id']}/reviews", params=params),
            dict,
            "reviews page",
        )
        reviews = self.expect(payload.get("data", []), list, "data")
        items, errors = self.map_records(reviews, self.to_item)
        yield Page(items, errors)

    def to_item(self, review: dict[str, Any]) -> ReviewItem:
        response = review.get("owner_response") or {}
        return ReviewItem(
            platform=self.platform,
            external_id=str(review["id"]),
            url=review["url"],
            text=plain_text(review.get("text")),
            title=plain_text(review.get("title")) or None,
            language=review.get("lang"),
            published_at=review["published_date"],
            author=(review.get("user") or {}).get("username"),
            rating=float(review["rating"]),
            reply_text=plain_text(response.get("text")) or None,
            reply_at=response.get("published_date"),
            raw=review,
        )
