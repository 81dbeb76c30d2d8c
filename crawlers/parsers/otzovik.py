"""Otzovik: list pages ``/reviews/{slug}/`` (page N: ``/reviews/{slug}/{N}/``) lead to review
pages ``/review_{id}.html`` with schema.org Review microdata, pros/cons blocks and the
"Рекомендую друзьям: ДА/НЕТ" verdict (see :mod:`crawlers.parsers.review_parts`).

The list page gives the review ids (for the incremental stop), the review links, the product's
AggregateRating and the next page; each review page gives one review. Dates are Moscow time.
"""

from __future__ import annotations

import re

from scrapy.http import TextResponse

from crawlers.parsers import review_parts
from crawlers.parsers.common import Page, PageError
from crawlers.parsers.schema import review_item, schema_data
from crawlers.parsers.schema_org import next_link

PLATFORM = "otzovik"
TIMEZONE = "Europe/Moscow"
_REVIEW_ID = re.compile(r"/review_(\d+)\.html")


def parse_list(response: TextResponse) -> Page:
    """Review links and ids, the rating summary and the next list page."""
    page = Page()
    for href in response.css("a.review-title::attr(href), a.review-btn::attr(href)").getall():
        url = response.urljoin(href)
        match = _REVIEW_ID.search(url)
        if match and match.group(1) not in page.listed_ids:
            page.links.append(url)
            page.listed_ids.append(match.group(1))
    if not page.links and not response.css(".empty-reviews, .no-reviews"):
        raise PageError(f"{response.url}: no review links on an Otzovik list page")
    page.total, page.rating = schema_data(response).aggregate()
    page.next_url = next_link(response) or _pager_next(response)
    return page


def parse_review(response: TextResponse) -> Page:
    """The one review of a review page: what a reader sees as its text, each part in raw."""
    match = _REVIEW_ID.search(response.url)
    reviews = schema_data(response).reviews()
    if not match or not reviews:
        raise PageError(f"{response.url}: no schema.org Review on an Otzovik review page")
    item = review_item(reviews[0], platform=PLATFORM, page_url=response.url, timezone=TIMEZONE)
    item.external_id = match.group(1)
    item.url = response.url
    body = item.raw["parts"]["body"]
    pros = review_parts.block_text(response, ".review-plus")
    cons = review_parts.block_text(response, ".review-minus")
    answer = review_parts.verdict(response)
    lines = [body, pros, cons, *review_parts.verdict_line(answer)]
    item.text = "\n".join(line for line in lines if line)
    item.raw = {**item.raw, "parts": review_parts.parts(item.title, pros, cons, body, answer)}
    return Page(items=[item])


def _pager_next(response: TextResponse) -> str | None:
    href = response.css("a.pager-item.next::attr(href), a.next::attr(href)").get()
    return response.urljoin(href) if href else None
