"""Yelp Fusion: up to three review excerpts of a business, newest first.

TARGET is the business id or alias, optionally with the location's locale:
``acme-coffee-warszawa/pl_PL`` (English, ``en_US``, when none is given). Yelp answers in one
language per request (``locale``) and names the languages it has reviews in
(``possible_languages``): each of those is asked for too, so a Polish café's Polish reviews are
not lost to an English-only answer. The key is ``REVMON_YELP_API_KEY``.

``time_created`` is US Pacific wall time without an offset, so it is read in America/Los_Angeles
(daylight saving included) and stored as UTC. Yelp has no reply API: the review URL is the way
to answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from crawlers.api.base import ApiClient, Page
from crawlers.items import ReviewItem
from pipeline.text import plain_text

TARGET = re.compile(r"^(?P<business>[A-Za-z0-9_-]+)(?:/(?P<locale>[a-z]{2,3}_[A-Z]{2}))?$")
PACIFIC = ZoneInfo("America/Los_Angeles")
DEFAULT_LOCALE = "en_US"
# One of Yelp's supported locales per language (Yelp Fusion docs, "Supported locales").
LOCALES = {
    "cs": "cs_CZ", "da": "da_DK", "de": "de_DE", "en": "en_US", "es": "es_ES", "fi": "fi_FI",
    "fil": "fil_PH", "fr": "fr_FR", "it": "it_IT", "ja": "ja_JP", "ms": "ms_MY", "nb": "nb_NO",
    "nl": "nl_NL", "pl": "pl_PL", "pt": "pt_BR", "sv": "sv_SE", "tr": "tr_TR", "zh": "zh_TW",
}  # fmt: skip


class YelpClient(ApiClient):
    """Review excerpts (Yelp gives three per language) plus the business's review total."""

    name = "yelp"
    platform = "yelp"
    credentials = ("yelp_api_key",)
    default_base_url = "https://api.yelp.com"
    target_example = "acme-coffee-warszawa/pl_PL"
    auth_fix = "set REVMON_YELP_API_KEY to a valid Yelp Fusion API key"

    async def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('yelp_api_key', 'Yelp API key')}"}

    async def pages(self, target: str) -> AsyncIterator[Page]:
        match = TARGET.match(target.strip())
        if not match:
            raise self.bad_target(target, "BUSINESS or BUSINESS/LOCALE (e.g. pl_PL)")
        path = f"/v3/businesses/{match['business']}/reviews"
        locales = [match["locale"] or DEFAULT_LOCALE]
        for locale in locales:  # grows while answers name more languages
            params = {"limit": 20, "sort_by": "newest", "locale": locale}
            payload = self.expect(await self.get_json(path, params=params), dict, "reviews page")
            reviews = self.expect(payload.get("reviews", []), list, "reviews")
            language = locale.split("_")[0]
            items, errors = self.map_records(reviews, partial(self.to_item, language=language))
            yield Page(items, errors, total=payload.get("total"))
            locales += other_locales(payload.get("possible_languages"), locales)

    def to_item(self, review: dict[str, Any], language: str | None = None) -> ReviewItem:
        return ReviewItem(
            platform=self.platform,
            external_id=review["id"],
            url=review["url"],
            text=plain_text(review.get("text")),
            language=language,
            published_at=pacific_to_iso(review["time_created"]),
            author=(review.get("user") or {}).get("name"),
            rating=float(review["rating"]),
            raw=review,
        )


def other_locales(languages: Any, asked: list[str]) -> list[str]:
    """A locale for each language Yelp has reviews in and that was not asked for yet."""
    done = {locale.split("_")[0] for locale in asked}
    found = [LOCALES.get(str(language)) for language in languages or [] if language not in done]
    return list(dict.fromkeys(locale for locale in found if locale))


def pacific_to_iso(value: str) -> str:
    """``"2016-08-29 00:41:13"`` in US Pacific time as ISO 8601 with its real offset."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PACIFIC).isoformat()
