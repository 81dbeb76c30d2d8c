"""Google Places API (New): the five reviews Google picks for a place, for any place.

TARGET is the place id (``ChIJN1t_tDeuEmsRUsoyG83frY4``, ``places/`` prefix allowed). The key is
``REVMON_GOOGLE_PLACES_API_KEY``; the field mask asks only for what is stored. There is no paging
and no reply API (replies need the owner's Business Profile access: ``google_business``). A
review's text comes in ``originalText`` (the reviewer's words and language) and ``text`` (maybe a
translation); the original is kept.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from crawlers.api.base import ApiClient, Page, error_detail
from crawlers.api.errors import ApiError, AuthError
from crawlers.items import ReviewItem
from pipeline.text import plain_text

PLACE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
FIELD_MASK = "id,displayName,rating,userRatingCount,googleMapsUri,reviews"


class GooglePlacesClient(ApiClient):
    """Up to five reviews of a place, with its rating and review count."""

    name = "google_places"
    platform = "google"
    credentials = ("google_places_api_key",)
    default_interval_minutes = 360  # Google bills every Places request
    default_base_url = "https://places.googleapis.com"
    target_example = "ChIJN1t_tDeuEmsRUsoyG83frY4"
    auth_fix = "set REVMON_GOOGLE_PLACES_API_KEY to a key with the Places API (New) enabled"

    async def auth_headers(self) -> dict[str, str]:
        key = self.secret("google_places_api_key", "Places API key")
        return {"X-Goog-Api-Key": key, "X-Goog-FieldMask": FIELD_MASK}

    async def pages(self, target: str) -> AsyncIterator[Page]:
        place = target.strip().removeprefix("places/")
        if not PLACE_ID.match(place):
            raise self.bad_target(target, "a place id")
        payload = self.expect(await self.get_json(f"/v1/places/{place}"), dict, "place")
        reviews = self.expect(payload.get("reviews", []), list, "reviews")
        place_url = payload.get("googleMapsUri")
        items, errors = self.map_records(reviews, lambda r: self.to_item(r, place_url))
        yield Page(
            items, errors, total=payload.get("userRatingCount"), rating=payload.get("rating")
        )

    def to_item(self, review: dict[str, Any], place_url: str | None) -> ReviewItem:
        original = review.get("originalText") or review.get("text") or {}
        author = review.get("authorAttribution") or {}
        return ReviewItem(
            platform=self.platform,
            external_id=review["name"],
            url=review.get("googleMapsUri") or place_url or author.get("uri") or "",
            text=plain_text(original.get("text")),
            language=original.get("languageCode"),
            published_at=review["publishTime"],
            author=author.get("displayName"),
            rating=float(review["rating"]),
            raw=review,
        )

    def client_error(self, response: httpx.Response) -> ApiError:
        """Google answers a bad key with 400 INVALID_ARGUMENT, not 401."""
        detail = error_detail(response)
        if response.status_code == 400 and "API key" in detail:
            return AuthError(
                self.name, f"the API key was refused (HTTP 400{detail})", self.auth_fix
            )
        return super().client_error(response)
