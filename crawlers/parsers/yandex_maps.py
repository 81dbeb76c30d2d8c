"""Yandex Maps organisation review pages: ``/maps/org/{slug}/{orgId}/reviews/``.

Unofficial: the page embeds its state as JSON (``<script class="state-view">``) whose layout
changes without notice, so reviews are found by shape (objects with a ``reviewId``) wherever they
sit. When the state is missing or broken, the page's schema.org microdata is used instead and the
breakage is reported. ``businessComment`` is the owner's reply. Captcha pages never get here: the
blocked-page middleware drops them (a redirect to ``/showcaptcha``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import TextResponse
from w3lib.url import add_or_replace_parameter, url_query_cleaner

from crawlers.items import ReviewItem
from crawlers.parsers import schema_org
from crawlers.parsers.common import (
    Page,
    PageError,
    dig,
    iso_datetime,
    load_json,
    plain,
    scale_rating,
    text_or_none,
    to_int,
    to_number,
)

PLATFORM = "yandex_maps"
TIMEZONE = "Europe/Moscow"  # the site's own zone for times shown without an offset
STATE_SCRIPTS = 'script.state-view::text, script[type="application/json"]::text'


def parse(response: TextResponse) -> Page:
    """Reviews from the embedded state; microdata when the state cannot be read."""
    try:
        return _from_state(response, _state(response))
    except PageError as exc:
        page_url = url_query_cleaner(response.url, ["page"], remove=True)
        page = schema_org.parse(response, platform=PLATFORM, page_url=page_url, timezone=TIMEZONE)
        if not page.items:
            raise PageError(f"{exc}; no microdata reviews either") from None
        page.errors.insert(0, f"{exc}; used the schema.org microdata (no replies, no ids)")
        return page


def _state(response: TextResponse) -> Any:
    for blob in response.css(STATE_SCRIPTS).getall():
        if '"reviewId"' in blob:
            return load_json(blob, f"{response.url}: Yandex Maps state JSON")
    raise PageError(f"{response.url}: no Yandex Maps state JSON with reviews")


def _from_state(response: TextResponse, state: Any) -> Page:
    page_url = url_query_cleaner(response.url, ["page"], remove=True)
    page = Page()
    for record in _records_with(state, "reviewId"):
        try:
            page.items.append(_review(record, page_url))
        except PageError as exc:
            page.errors.append(f"{response.url}: review {record.get('reviewId')!r}: {exc}")
    rating = next(_records_with(state, "ratingValue"), {})
    page.total = to_int(rating.get("reviewCount")) or to_int(rating.get("ratingCount"))
    page.rating = to_number(rating.get("ratingValue"))
    page.next_url = schema_org.next_link(response) or _next_from_params(response, state)
    return page


def _review(record: dict[str, Any], page_url: str) -> ReviewItem:
    review_id = text_or_none(record.get("reviewId"))
    published = iso_datetime(record.get("updatedTime") or record.get("createdTime"))
    if not review_id or not published:
        raise PageError("no reviewId or updatedTime")
    reply = record.get("businessComment") or {}
    return ReviewItem(
        platform=PLATFORM,
        external_id=review_id,
        url=page_url,
        author=plain(dig(record, "author", "name")),
        rating=scale_rating(record.get("rating")),
        text=plain(record.get("text")) or "",
        language=text_or_none(record.get("textLanguage")),
        published_at=published,
        reply_text=plain(reply.get("text")),
        reply_at=iso_datetime(reply.get("updatedTime")) if reply.get("text") else None,
        raw=record,
    )


def _next_from_params(response: TextResponse, state: Any) -> str | None:
    """``?page=N+1`` while the state's review params say there are more pages."""
    for params in _records_with(state, "totalPages"):
        current, last = to_int(params.get("page")), to_int(params.get("totalPages"))
        if current and last and current < last:
            return add_or_replace_parameter(response.url, "page", str(current + 1))
    return None


def _records_with(value: Any, key: str) -> Iterator[dict[str, Any]]:
    """Every object in the state that has ``key``, depth first, in document order."""
    if isinstance(value, dict):
        if key in value:
            yield value
            return
        for child in value.values():
            yield from _records_with(child, key)
    elif isinstance(value, list):
        for child in value:
            yield from _records_with(child, key)
