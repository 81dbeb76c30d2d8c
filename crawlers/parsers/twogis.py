"""2GIS reviews API: ``/2.0/branches/{branchId}/reviews`` (one branch) or
``/3.0/orgs/{orgId}/reviews`` (every branch of an organisation), paged through ``meta.next_link``.

Dates carry the branch's local offset (``+07:00`` in Novosibirsk) and are kept as given, so the
moment is right and the local time of day is still visible. What public 2GIS clients record
about the API, and how it is read here:

- ``official_answer`` (the owner's reply) is an object ``{text, date_created}``, but arrives as
  a plain string too: both are read.
- ``hiding_reason`` is only sent when ``fields=`` asks for ``reviews.hiding_reason``
  (:func:`with_fields` adds it); reviews hidden by moderation are not public and are skipped.
- ``next_link`` may name another port or scheme (``:8080``): it is followed on the host and
  scheme of the answer it came in, with that answer's ``key``, ``fields`` and ``locale``.
- each review says which branch it belongs to (``object.id``): its public page
  ``2gis.ru/firm/{object.id}`` is the review's URL, never the API URL (it carries the key).
  An organisation answer rates the organisation (``meta.org_rating``, ``org_reviews_count``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy.http import TextResponse
from w3lib.url import add_or_replace_parameter, url_query_parameter

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
_OWNER = re.compile(r"/(?:branches|orgs)/(\d+)/")
BRANCH_FIELDS = (
    "meta.branch_rating",
    "meta.branch_reviews_count",
    "meta.total_count",
    "reviews.hiding_reason",
)
ORG_FIELDS = (
    "meta.org_rating",
    "meta.org_reviews_count",
    "meta.total_count",
    "reviews.hiding_reason",
)
_CARRIED = ("key", "locale")
_RECORD_ERRORS = (PageError, AttributeError, TypeError, ValueError)


def parse(response: TextResponse, site_url: str = SITE_URL) -> Page:
    """Reviews and branch (or organisation) facts from one API response."""
    data = load_json(response.body, f"{response.url}: 2GIS reviews response")
    reviews = dig(data, "reviews")
    if not isinstance(reviews, list):
        raise PageError(f"{response.url}: 2GIS response has no `reviews` list")
    page = Page()
    meta = data.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        page.errors.append(f"{response.url}: 2GIS `meta` is not an object: {meta!r:.80}")
        meta = {}
    page.total = (
        to_int(meta.get("branch_reviews_count"))
        or to_int(meta.get("org_reviews_count"))
        or to_int(meta.get("total_count"))
    )
    page.rating = to_number(meta.get("branch_rating")) or to_number(meta.get("org_rating"))
    owner = _OWNER.search(urlsplit(response.url).path)
    fallback_url = f"{site_url}/firm/{owner.group(1)}/tab/reviews" if owner else site_url
    for record in reviews:
        if not isinstance(record, dict):
            page.errors.append(f"{response.url}: review is not an object: {record!r:.80}")
        elif not record.get("hiding_reason"):
            try:
                page.items.append(_review(record, site_url, fallback_url))
            except _RECORD_ERRORS as exc:
                page.errors.append(f"{response.url}: review {record.get('id')!r}: {exc!r:.200}")
    next_link = text_or_none(meta.get("next_link"))
    page.next_url = api_link(next_link, response.url) if next_link else None
    return page


def _review(record: dict[str, Any], site_url: str, fallback_url: str) -> ReviewItem:
    review_id = text_or_none(record.get("id"))
    published = iso_datetime(record.get("date_created"))
    if not review_id or not published:
        raise PageError("no id or date_created")
    reply_text, reply_at = official_answer(record.get("official_answer"))
    branch = text_or_none(dig(record, "object", "id"))
    return ReviewItem(
        platform=PLATFORM,
        external_id=review_id,
        url=f"{site_url}/firm/{branch}/tab/reviews" if branch else fallback_url,
        author=plain(dig(record, "user", "name")),
        rating=scale_rating(record.get("rating")),
        text=plain(record.get("text")) or "",
        published_at=published,
        reply_text=reply_text,
        reply_at=reply_at,
        raw=record,
    )


def official_answer(answer: Any) -> tuple[str | None, str | None]:
    """(reply text, reply date) from ``{"text", "date_created"}`` or from a bare string."""
    if isinstance(answer, str):
        return plain(answer), None
    if isinstance(answer, dict):
        text = plain(answer.get("text"))
        return text, iso_datetime(answer.get("date_created")) if text else None
    return None, None


def api_link(link: str, current: str) -> str:
    """``link`` on the host and scheme of ``current`` (the API's own), with its key, locale and
    the fields revmon needs: whatever host, port or scheme the answer named."""
    here, there = urlsplit(current), urlsplit(link)
    url = urlunsplit((here.scheme, here.netloc, there.path or here.path, there.query, ""))
    for name in _CARRIED:
        value = url_query_parameter(current, name)
        if value and not url_query_parameter(url, name):
            url = add_or_replace_parameter(url, name, value)
    return with_fields(url, url_query_parameter(current, "fields"))


def with_fields(url: str, also: str | None = None) -> str:
    """``url`` whose ``fields=`` asks for everything revmon reads (``reviews.hiding_reason``
    above all); unchanged when it already does."""
    wanted = ORG_FIELDS if "/orgs/" in urlsplit(url).path else BRANCH_FIELDS
    fields = [f for f in (url_query_parameter(url, "fields") or "").split(",") if f]
    missing = [
        f for f in dict.fromkeys([*(also or "").split(","), *wanted]) if f and f not in fields
    ]
    if not missing:
        return url
    return add_or_replace_parameter(url, "fields", ",".join(fields + missing))
