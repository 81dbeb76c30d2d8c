"""The generic ``schema_org`` source: any page with schema.org Review markup.

A site may mark the same review up twice (JSON-LD for search engines, microdata in the visible
list): such twins are one review here. Twins share author, body and day (or one of them has no
date); the first one read (JSON-LD comes first) is kept and the other fills in what it lacks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scrapy.http import TextResponse

from crawlers.items import ReviewItem
from crawlers.parsers.common import Page, PageError
from crawlers.parsers.schema import (
    fold,
    own_id,
    page_language,
    review_identity,
    review_item,
    schema_data,
)

PLATFORM = "schema_org"
_FILLED = ("author", "rating", "title", "language", "reply_text", "reply_at")


def parse(
    response: TextResponse,
    platform: str = PLATFORM,
    page_url: str | None = None,
    timezone: str = "UTC",
) -> Page:
    """Reviews, the AggregateRating and the ``rel=next`` page of any marked-up page.

    Sites with their own parser use this as their fallback, under their own ``platform``.
    """
    data = schema_data(response)
    page = Page(errors=list(data.errors))
    page.total, page.rating = data.aggregate()
    language = page_language(response)
    fetched_at = datetime.now(UTC).isoformat()
    url = page_url or response.url
    items: list[ReviewItem] = []
    for node in data.reviews():
        try:
            items.append(
                review_item(
                    node,
                    platform=platform,
                    page_url=url,
                    language=language,
                    timezone=timezone,
                    fetched_at=fetched_at,
                )
            )
        except PageError as exc:
            page.errors.append(str(exc))
    page.items = unique(items, url)
    page.next_url = next_link(response)
    return page


def unique(items: list[ReviewItem], page_url: str) -> list[ReviewItem]:
    """One item per review, however many times the page marks it up."""
    kept: list[ReviewItem] = []
    for item in items:
        twin = next((seen for seen in kept if _twins(seen, item)), None)
        if twin is None:
            kept.append(item)
        else:
            _merge(twin, item, page_url)
    return kept


def _body(item: ReviewItem) -> str:
    return fold(item.raw["parts"]["body"])


def _twins(a: ReviewItem, b: ReviewItem) -> bool:
    ids = own_id(a.raw), own_id(b.raw)
    if all(ids) and ids[0] != ids[1]:
        return False
    if fold(a.author) != fold(b.author) or _body(a) != _body(b):
        return False
    return (
        a.published_estimated or b.published_estimated or a.published_at[:10] == b.published_at[:10]
    )


def _merge(into: ReviewItem, other: ReviewItem, page_url: str) -> None:
    for name in _FILLED:
        if getattr(into, name) is None:
            setattr(into, name, getattr(other, name))
    if into.published_estimated and not other.published_estimated:
        into.published_at, into.published_estimated = other.published_at, False
    parts, other_parts = into.raw["parts"], other.raw["parts"]
    if not (parts["pros"] or parts["cons"]) and (other_parts["pros"] or other_parts["cons"]):
        into.text, into.raw = other.text, {**into.raw, "parts": other_parts}
    if own_id(into.raw) is None:
        if own_id(other.raw):
            into.external_id, into.url = other.external_id, other.url
        else:
            day = "" if into.published_estimated else into.published_at[:10]
            into.external_id = review_identity(page_url, into.author, day, parts["body"] or "")


def next_link(response: TextResponse) -> str | None:
    """The ``rel=next`` link (``<link>`` in the head or ``<a>`` in the pager), made absolute."""
    href = response.xpath(
        '//link[contains(concat(" ", normalize-space(@rel), " "), " next ")]/@href'
        ' | //a[contains(concat(" ", normalize-space(@rel), " "), " next ")]/@href'
    ).get()
    return response.urljoin(href) if href else None
