"""irecommend.ru: list pages ``/content/{slug}`` (then ``?page=1``, ``?page=2``..) lead to review
pages with schema.org Review microdata, pros/cons lists and the reviewer's verdict
(see :mod:`crawlers.parsers.review_parts`).

A review's id is its path (``/content/{review-slug}``): the list page shows the same path, so an
incremental crawl can stop on a list page. Dates carry an offset; times without one are Moscow.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.http import TextResponse

from crawlers.parsers import review_parts
from crawlers.parsers.common import Page, PageError
from crawlers.parsers.schema import review_item, schema_data
from crawlers.parsers.schema_org import next_link

PLATFORM = "irecommend"
TIMEZONE = "Europe/Moscow"


def parse_list(response: TextResponse) -> Page:
    """Review links (their paths are the list's ids), the rating summary and the next page."""
    page = Page()
    for href in response.css(".list-comments .reviewTitle a::attr(href)").getall():
        url = response.urljoin(href)
        if url not in page.links:
            page.links.append(url)
    if not page.links and not response.css(".list-comments, .empty-list"):
        raise PageError(f"{response.url}: no review list on an irecommend page")
    page.listed_ids = [urlsplit(url).path for url in page.links]
    page.total, page.rating = schema_data(response).aggregate()
    href = response.css("li.pager-next a::attr(href)").get()
    page.next_url = next_link(response) or (response.urljoin(href) if href else None)
    return page


def parse_review(response: TextResponse) -> Page:
    """The one review of a review page: what a reader sees as its text, each part in raw."""
    reviews = schema_data(response).reviews()
    if not reviews:
        raise PageError(f"{response.url}: no schema.org Review on an irecommend review page")
    item = review_item(reviews[0], platform=PLATFORM, page_url=response.url, timezone=TIMEZONE)
    item.external_id = urlsplit(response.url).path
    item.url = response.url
    body = item.raw["parts"]["body"]
    pros = review_parts.block_text(response, ".plus")
    cons = review_parts.block_text(response, ".minus")
    answer = review_parts.verdict(response)
    lines = [
        body,
        f"Достоинства: {review_parts.unlabelled(pros)}" if pros else None,
        f"Недостатки: {review_parts.unlabelled(cons)}" if cons else None,
        *review_parts.verdict_line(answer),
    ]
    item.text = "\n".join(line for line in lines if line)
    item.raw = {**item.raw, "parts": review_parts.parts(item.title, pros, cons, body, answer)}
    return Page(items=[item])
