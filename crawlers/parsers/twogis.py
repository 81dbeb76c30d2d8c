"""2GIS reviews API: ``/2.0/branches/{branchId}/reviews`` JSON, paged through ``meta.next_link``.

Dates carry the branch's local offset (``+07:00`` in Novosibirsk) and are kept as given, so the
moment is right and the local time of day is still visible. ``official_answer`` is the reply.
Reviews hidden by moderation (``hiding_reason``) are not public and are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from scrapy.http import TextResponse

from crawlers.items import ReviewItem
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

PLATFORM = "twogis"
SITE_URL = "https://2gis.ru"
_BRANCH = re.compile(r"/branches/(\d+)/")


def parse(response: TextResponse, site_url: str = SITE_URL) -> Page:
    """Reviews and branch facts from one API response."""
    data = load_json(response.body, f"{response.url}: 2GIS reviews response")
    reviews = dig(data, "reviews")
    if not isinstance(reviews, list):
        raise PageError(f"{response.url}: 2GIS response has no `reviews` list")
    meta = dig(data, "meta") or {}
    page = Page(
        total=to_int(meta.get("branch_reviews_count")) or to_int(meta.get("total_count")),
        rating=to_number(meta.get("branch_rating")),
    )
    branch = _BRANCH.search(response.url)
    public_url = f"{site_url}/firm/{branch.group(1)}/tab/reviews" if branch else response.url
    for record in reviews:
        if not isinstance(record, dict):
            page.errors.append(f"{response.url}: review is not an object: {record!r:.80}")
        elif not record.get("hiding_reason"):
            try:
                page.items.append(_review(record, public_url))
            except PageError as exc:
                page.errors.append(f"{response.url}: review {record.get('id')!r}: {exc}")
    next_link = text_or_none(meta.get("next_link"))
    page.next_url = response.urljoin(next_link) if next_link else None
    return page


def _review(record: dict[str, Any], public_url: str) -> ReviewItem:
    review_id = text_or_none(record.get("id"))
    published = iso_datetime(record.get("date_created"))
    if not review_id or not published:
        raise PageError("no id or date_created")
    answer = record.get("official_answer") or {}
    return ReviewItem(
        platform=PLATFORM,
        external_id=review_id,
        url=public_url,
        author=plain(dig(record, "user", "name")),
        rating=scale_rating(record.get("rating")),
        text=plain(record.get("text")) or "",
        published_at=published,
        reply_text=plain(answer.get("text")),
        reply_at=iso_datetime(answer.get("date_created")) if answer.get("text") else None,
        raw=record,
    )
