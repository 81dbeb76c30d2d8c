"""``trustpilot``: a company's public review pages, every page to the last (or to known reviews)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import trustpilot
from crawlers.spiders._base import ReviewSpider


class TrustpilotSpider(ReviewSpider):
    """``scrapy crawl trustpilot -a url=https://www.trustpilot.com/review/example.com``."""

    name = "trustpilot"
    platform = trustpilot.PLATFORM
    base_url = "https://www.trustpilot.com"
    target_path = "/review/{target}"
    example = "https://www.trustpilot.com/review/example.com"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, trustpilot.parse)
