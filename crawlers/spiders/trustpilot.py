"""``trustpilot``: a company's public review pages, every page to the last (or to known reviews).

Trustpilot's pages list only the visitor's language unless ``languages=all`` is asked for, while
the company's ``numberOfReviews`` counts every language: the start page asks for all languages
(unless the configured URL already chooses some), so the pages hold what the total counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response
from w3lib.url import add_or_replace_parameter, url_query_parameter

from crawlers.parsers import trustpilot
from crawlers.spiders._base import ReviewSpider


class TrustpilotSpider(ReviewSpider):
    """``scrapy crawl trustpilot -a url=https://www.trustpilot.com/review/example.com``."""

    name = "trustpilot"
    platform = trustpilot.PLATFORM
    base_url = "https://www.trustpilot.com"
    target_path = "/review/{target}"
    example = "https://www.trustpilot.com/review/example.com"

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():
            if isinstance(request, Request):
                request = request.replace(url=all_languages(request.url))
            yield request

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, trustpilot.parse)


def all_languages(url: str) -> str:
    """``url`` asking for reviews in every language, unless it already names its languages."""
    if url_query_parameter(url, "languages"):
        return url
    return add_or_replace_parameter(url, "languages", "all")
