"""``irecommend``: list pages of a product or place on irecommend.ru, then each review page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import irecommend
from crawlers.spiders._base import ReviewSpider


class IrecommendSpider(ReviewSpider):
    """``scrapy crawl irecommend -a url=https://irecommend.ru/content/SLUG``."""

    name = "irecommend"
    platform = irecommend.PLATFORM
    base_url = "https://irecommend.ru"
    target_path = "/content/{target}"
    example = "https://irecommend.ru/content/northwind-coffee"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, irecommend.parse_list)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        yield from self.parse_with(response, irecommend.parse_review)
