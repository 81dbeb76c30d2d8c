"""``otzovik``: list pages of a product or place on Otzovik, then each review page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import otzovik
from crawlers.spiders._base import ReviewSpider


class OtzovikSpider(ReviewSpider):
    """``scrapy crawl otzovik -a url=https://otzovik.com/reviews/SLUG/`` (or ``-a target=SLUG``)."""

    name = "otzovik"
    platform = otzovik.PLATFORM
    base_url = "https://otzovik.com"
    target_path = "/reviews/{target}/"
    example = "https://otzovik.com/reviews/northwind_coffee/"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, otzovik.parse_list)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        yield from self.parse_with(response, otzovik.parse_review)
