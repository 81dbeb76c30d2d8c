"""``yandex_maps``: an organisation's review pages on Yandex Maps (captchas count as blocked)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import yandex_maps
from crawlers.spiders._base import ReviewSpider


class YandexMapsSpider(ReviewSpider):
    """``scrapy crawl yandex_maps -a url=https://yandex.ru/maps/org/SLUG/ORG_ID/reviews/``.

    ``-a target=SLUG/ORG_ID`` builds that URL under ``https://yandex.ru``.
    """

    name = "yandex_maps"
    platform = yandex_maps.PLATFORM
    base_url = "https://yandex.ru"
    target_path = "/maps/org/{target}/reviews/"
    example = "https://yandex.ru/maps/org/northwind_coffee/1234567890/reviews/"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, yandex_maps.parse)
