"""``twogis``: a 2GIS branch's reviews from its reviews API, following ``meta.next_link``."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from scrapy.http import Response

from crawlers.parsers import twogis
from crawlers.spiders._base import ReviewSpider

API_QUERY = (
    "?limit=50&sort_by=date_edited&locale=ru_RU"
    "&fields=meta.branch_rating,meta.branch_reviews_count,meta.total_count"
)


class TwogisSpider(ReviewSpider):
    """``scrapy crawl twogis -a url=https://public-api.reviews.2gis.com/2.0/branches/ID/reviews``.

    ``-a target=BRANCH_ID`` builds that URL (sorted by last edit, so edits surface first).
    """

    name = "twogis"
    platform = twogis.PLATFORM
    base_url = "https://public-api.reviews.2gis.com"
    target_path = "/2.0/branches/{target}/reviews" + API_QUERY
    example = "https://public-api.reviews.2gis.com/2.0/branches/70000001006794318/reviews"
    site_url = twogis.SITE_URL

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_with(response, partial(twogis.parse, site_url=self.site_url))
