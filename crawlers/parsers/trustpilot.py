"""Trustpilot public review pages: ``/review/{domain}?page=N``, 20 reviews a page.

The page embeds its data in ``<script id="__NEXT_DATA__">`` (reviews with company replies,
the business unit, pagination). The platform total is ``filters.pagination.totalCount`` (what
the pages list; ``numberOfReviews`` counts every language, also when only one is listed). An
edited company reply keeps its ``publishedDate``; ``updatedDate`` says when it changed.

When ``__NEXT_DATA__`` is missing or broken, the JSON-LD Review nodes are used instead (no
replies there) and the breakage is reported. CSS classes are hashed: never used.
"""

from __future__ import annotations

from typing import Any

from scrapy.http import TextResponse
from w3lib.url import add_or_replace_parameter, url_query_parameter

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

PLATFORM = "trustpilot"


def parse(response: TextResponse) -> Page:
    """Reviews and facts from ``__NEXT_DATA__``; JSON-LD when that cannot be read."""
    blob = response.css("script#__NEXT_DATA__::text").get()
    try:
        if blob is None:
            raise PageError(f"{response.url}: no __NEXT_DATA__ script")
        return _from_next_data(response, load_json(blob, "__NEXT_DATA__"))
    except PageError as exc:
        page = _from_json_ld(response)
        if not page.items:
            raise PageError(f"{exc}; no JSON-LD reviews either") from None
        page.errors.insert(0, f"{exc}; used the JSON-LD fallback (no replies)")
        return page


def _from_next_data(response: TextResponse, data: Any) -> Page:
    props = dig(data, "props", "pageProps")
    reviews = dig(props, "reviews")
    if not isinstance(reviews, list):
        raise PageError(f"{response.url}: __NEXT_DATA__ has no props.pageProps.reviews list")
    unit = dig(props, "businessUnit") or {}
    pagination = dig(props, "filters", "pagination") or {}
    page = Page(
        # what the pages list (all languages when asked for): the total coverage is judged by
        total=to_int(pagination.get("totalCount")) or to_int(unit.get("numberOfReviews")),
        rating=to_number(unit.get("trustScore")),
    )
    for record in reviews:
        try:
            page.items.append(_review(response, record))
        except (PageError, AttributeError, TypeError) as exc:
            page.errors.append(f"{response.url}: review {dig(record, 'id')!r} unreadable: {exc}")
    current, last = to_int(pagination.get("currentPage")), to_int(pagination.get("totalPages"))
    if current and last and current < last:
        page.next_url = add_or_replace_parameter(response.url, "page", str(current + 1))
    return page


def _review(response: TextResponse, record: dict[str, Any]) -> ReviewItem:
    review_id = text_or_none(record.get("id"))
    published = iso_datetime(dig(record, "dates", "publishedDate"))
    if not review_id or not published:
        raise PageError("no id or publishedDate")
    reply = record.get("reply") or {}
    return ReviewItem(
        platform=PLATFORM,
        external_id=review_id,
        url=response.urljoin(f"/reviews/{review_id}"),
        author=plain(dig(record, "consumer", "displayName")),
        rating=scale_rating(record.get("rating")),
        title=plain(record.get("title")),
        text=plain(record.get("text")) or "",
        language=text_or_none(record.get("language")),
        published_at=published,
        reply_text=plain(reply.get("message")),
        reply_at=_reply_date(reply),
        raw=record,
    )


def _reply_date(reply: dict[str, Any]) -> str | None:
    """When the company's reply was last written: an edited reply keeps its first
    ``publishedDate`` and says when it changed in ``updatedDate``."""
    if not reply.get("message"):
        return None
    return iso_datetime(reply.get("updatedDate") or reply.get("publishedDate"))


def _from_json_ld(response: TextResponse) -> Page:
    page = schema_org.parse(response, platform=PLATFORM)
    number = url_query_parameter(page.next_url or "", "page")
    if number:  # the rel=next link, keeping this page's own query (languages=all)
        page.next_url = add_or_replace_parameter(response.url, "page", number)
    for item in page.items:
        # "@id": ".../#/schema/Review/{domain}/{reviewId}": the same id __NEXT_DATA__ gives.
        item.external_id = item.external_id.rstrip("/").rsplit("/", 1)[-1]
        item.url = response.urljoin(f"/reviews/{item.external_id}")
    return page
