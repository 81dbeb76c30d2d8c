"""The generic ``schema_org`` source: any page with schema.org Review markup."""

from __future__ import annotations

from scrapy.http import TextResponse

from crawlers.parsers.common import Page, PageError
from crawlers.parsers.schema import page_language, review_item, schema_data

PLATFORM = "schema_org"


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
    for node in data.reviews():
        try:
            item = review_item(
                node,
                platform=platform,
                page_url=page_url or response.url,
                language=language,
                timezone=timezone,
            )
        except PageError as exc:
            page.errors.append(str(exc))
        else:
            page.items.append(item)
    page.next_url = next_link(response)
    return page


def next_link(response: TextResponse) -> str | None:
    """The ``rel=next`` link (``<link>`` in the head or ``<a>`` in the pager), made absolute."""
    href = response.xpath(
        '//link[contains(concat(" ", normalize-space(@rel), " "), " next ")]/@href'
        ' | //a[contains(concat(" ", normalize-space(@rel), " "), " next ")]/@href'
    ).get()
    return response.urljoin(href) if href else None
