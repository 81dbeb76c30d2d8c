"""``twogis``: a 2GIS branch's (or organisation's) reviews from the reviews API, following
``meta.next_link`` on the API's own host.

The API wants a ``key`` in the query. It is sent with every request but kept out of what revmon
stores: the start URL recorded for the run has it removed, and reviews link to 2GIS's public
firm pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Any

from scrapy import Request
from scrapy.http import Response
from w3lib.url import add_or_replace_parameter, url_query_cleaner, url_query_parameter

from crawlers.parsers import twogis
from crawlers.spiders._base import ReviewSpider

API_QUERY = "?limit=50&sort_by=date_edited&locale=ru_RU&fields=" + ",".join(twogis.BRANCH_FIELDS)


class TwogisSpider(ReviewSpider):
    """``scrapy crawl twogis -a url=https://public-api.reviews.2gis.com/2.0/branches/ID/reviews``.

    ``-a target=BRANCH_ID`` builds that URL (sorted by last edit, so edits surface first); an
    organisation's ``/3.0/orgs/ID/reviews`` URL works too.
    """

    name = "twogis"
    platform = twogis.PLATFORM
    base_url = "https://public-api.reviews.2gis.com"
    target_path = "/2.0/branches/{target}/reviews" + API_QUERY
    example = "https://public-api.reviews.2gis.com/2.0/branches/70000001006794318/reviews"
    site_url = twogis.SITE_URL

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.api_key = url_query_parameter(self.start_url, "key")
        if self.api_key:
            self.start_url = url_query_cleaner(self.start_url, ["key"], remove=True)

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():
            if isinstance(request, Request):
                url = twogis.with_fields(request.url)
                if self.api_key:
                    url = add_or_replace_parameter(url, "key", self.api_key)
                request = request.replace(url=url)
            yield request

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, partial(twogis.parse, site_url=self.site_url))
