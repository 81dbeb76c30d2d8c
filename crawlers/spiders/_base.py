"""The base every revmon spider shares: argument checks, page facts, errors, incremental stop.

Spider arguments (``-a``): ``url=START_URL`` (or ``target=`` looked up under the spider's base
URL, itself overridable with ``base_url=``), ``location=KEY``, ``full=1`` (page to the end even
past reviews already stored). The store pipeline reads ``platform``, ``start_url``,
``location_key``, ``platform_total``, ``platform_rating`` and ``page_errors`` from the spider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import scrapy
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from crawlers.parsers.common import Page, PageError
from crawlers.spiders._stored import StoredReviews

Parser = Callable[[Any], Page]


class SpiderArgs(BaseModel):
    """The ``-a`` arguments every revmon spider takes; anything else is a typo and an error."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    target: str | None = None
    base_url: str | None = None
    location: str | None = None
    full: bool = False

    @field_validator("url", "base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip()


class ReviewSpider(scrapy.Spider):
    """A spider that yields ReviewItems for one start URL and stops where the last crawl ended."""

    platform: ClassVar[str] = ""
    base_url: ClassVar[str | None] = None
    target_path: ClassVar[str | None] = None  # e.g. "/review/{target}"
    example: ClassVar[str] = "https://example.com/reviews"

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        try:
            args = SpiderArgs(**kwargs)
        except ValidationError as exc:
            problems = "; ".join(f"-a {e['loc'][0]}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"spider {self.name}: {problems}") from None
        super().__init__(name)
        self.start_url = args.url or self._target_url(args.target, args.base_url)
        self.location_key = args.location
        self.full = args.full
        self.platform_total: int | None = None
        self.platform_rating: float | None = None
        self.page_errors: list[str] = []
        self.stored = StoredReviews(None)

    def _target_url(self, target: str | None, base_url: str | None) -> str:
        base = base_url or self.base_url
        if target and base and self.target_path:
            return base.rstrip("/") + self.target_path.format(target=quote(target.strip("/")))
        raise ValueError(
            f"spider {self.name}: give -a url=START_URL (e.g. {self.example})"
            + (f" or -a target=... under {self.base_url}" if self.target_path else "")
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ReviewSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.stored = StoredReviews.from_settings(crawler.settings)
        crawler.signals.connect(spider.stored.close, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        # Not dont_filter: with a shared (Redis) dupefilter, only one process takes the start page.
        yield scrapy.Request(self.start_url, callback=self.parse)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        raise NotImplementedError

    def parse_with(self, response: Response, parser: Parser) -> Iterator[Any]:
        """Run a parser; a page it cannot read is logged and counted, and the crawl goes on."""
        if not isinstance(response, TextResponse):
            kind = response.headers.get("Content-Type", b"").decode("latin-1")
            self.page_failed(f"{response.url}: not a text page ({kind or 'no Content-Type'})")
            return
        try:
            page = parser(response)
        except PageError as exc:
            self.page_failed(str(exc))
            return
        yield from self.page_results(response, page)

    def page_results(self, response: Response, page: Page) -> Iterator[Any]:
        """Record the page's facts and yield its items, detail pages and (maybe) the next page."""
        if self.platform_total is None and page.total is not None:
            self.platform_total = page.total
        if self.platform_rating is None and page.rating is not None:
            self.platform_rating = page.rating
        for message in page.errors:
            self.page_failed(message)
        for item in page.items:
            item.location_key = item.location_key or self.location_key
            yield item
        for link in page.links:
            yield response.follow(link, callback=self.parse_detail)
        if page.next_url:
            if self.caught_up(page):
                self.logger.info("caught up at %s: reviews stored and unchanged", response.url)
                self.crawler.stats.inc_value("revmon/caught_up")
            else:
                yield response.follow(page.next_url, callback=self.parse)

    def parse_detail(self, response: Response) -> Iterator[Any]:
        raise NotImplementedError(f"spider {self.name} follows no detail pages")

    def caught_up(self, page: Page) -> bool:
        """Incremental stop: the page holds only stored, unchanged reviews (never with full=1)."""
        if self.full:
            return False
        if page.listed_ids:
            return self.stored.all_known(self.platform, page.listed_ids)
        return self.stored.unchanged(self.platform, page.items)

    def page_failed(self, message: str) -> None:
        """A page or record that could not be read: logged, kept for the crawl run, counted."""
        self.logger.error("parse error: %s", message)
        self.page_errors.append(message)
        self.crawler.stats.inc_value("revmon/parse_errors")
