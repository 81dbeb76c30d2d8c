"""``telegram``: a public channel's posts from ``t.me/s/NAME``, older ones via ``?before=``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import telegram
from crawlers.spiders._base import ReviewSpider


class TelegramSpider(ReviewSpider):
    """``scrapy crawl telegram -a url=https://t.me/s/CHANNEL`` (or ``-a target=CHANNEL``)."""

    name = "telegram"
    platform = telegram.PLATFORM
    base_url = "https://t.me"
    target_path = "/s/{target}"
    example = "https://t.me/s/northwind_news"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, telegram.parse)
