"""``schema_org``: any page with schema.org Review markup, following ``rel=next`` pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import schema_org
from crawlers.spiders._base import ReviewSpider


class SchemaOrgSpider(ReviewSpider):
    """``scrapy crawl schema_org -a url=https://shop.example/product/42``."""

    name = "schema_org"
    platform = schema_org.PLATFORM
    example = "https://shop.example/product/42"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, schema_org.parse)
