"""The base every revmon spider shares: argument checks, page outcomes, where it may go, and
the incremental stop.

Spider arguments (``-a``): ``url=START_URL`` (or ``target=`` looked up under the spider's base
URL, itself overridable with ``base_url=``), ``location=KEY``, ``full=1`` (page to the end even
past reviews already stored), ``allow=HOST,HOST`` (more hosts it may follow links to).

Every page ends with one outcome, recorded on the crawl run (``self.collection``, set by the
store pipeline) and in the stats (``revmon/pages/<outcome>``): ``ok``; ``empty`` (a 200 with no
body); ``http_<status>`` (after the retries); ``parse_error`` (the parser could not read it, for
whatever reason); ``blocked`` (captcha); ``robots`` (robots.txt forbids it); ``refused`` (a link
to another host or to a non-http(s) URL: never fetched); ``network`` (no answer). Nothing is
skipped silently, so the run's status can say whether every page was fetched and parsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import scrapy
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotSupported
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.parsers.common import Page, PageError
from crawlers.spiders._stored import StoredReviews
from pipeline.collection import CollectionRun
from pipeline.config import http_url

Parser = Callable[[Any], Page]


class SpiderArgs(BaseModel):
    """The ``-a`` arguments every revmon spider takes; anything else is a typo and an error."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    target: str | None = None
    base_url: str | None = None
    location: str | None = None
    full: bool = False
    allow: str | None = None  # comma-separated extra hosts

    @field_validator("url", "base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_url(value)


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
        self.hosts = allowed_hosts(self.start_url, args.allow)
        # Scrapy's own offsite check (by host name) also covers redirects
        self.allowed_domains = sorted({host.rsplit(":", 1)[0] for host in self.hosts})
        self.platform_total: int | None = None
        self.platform_rating: float | None = None
        self.page_errors: list[str] = []
        self.stored = StoredReviews(None)
        self.collection: CollectionRun | None = None  # set by the store pipeline

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
        yield scrapy.Request(self.start_url, callback=self.parse, errback=self.request_failed)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        raise NotImplementedError

    def parse_with(self, response: Response, parser: Parser) -> Iterator[Any]:
        """Run a parser; a page it cannot read is logged and counted, and the crawl goes on."""
        if not isinstance(response, TextResponse):
            kind = response.headers.get("Content-Type", b"").decode("latin-1")
            self.page_done(response.url, "parse_error", f"not a text page ({kind or 'none'})")
            return
        if not response.body.strip():
            self.page_done(response.url, "empty", f"HTTP {response.status} with an empty body")
            return
        try:
            page = parser(response)
        except PageError as exc:
            self.page_done(response.url, "parse_error", str(exc))
            return
        except Exception as exc:  # a parser bug or a format change: this page, not the crawl
            self.logger.exception("parser failed on %s", response.url)
            self.page_done(response.url, "parse_error", f"{type(exc).__name__}: {exc}")
            return
        yield from self.page_results(response, page)

    def page_results(self, response: Response, page: Page) -> Iterator[Any]:
        """Record the page's facts and yield its items, detail pages and (maybe) the next page."""
        if self.platform_total is None and page.total is not None:
            self.platform_total = page.total
        if self.platform_rating is None and page.rating is not None:
            self.platform_rating = page.rating
        if self.collection is not None:
            self.collection.facts(page.total, page.rating)
            self.collection.rejected_records(page.errors)
        for message in page.errors:
            self.record_error(message)
        self.page_done(response.url)
        for item in page.items:
            item.location_key = item.location_key or self.location_key
            yield item
        for link in page.links:
            yield from self.follow(response, link, self.parse_detail)
        if page.next_url:
            if self.caught_up(page):
                self.logger.info("caught up at %s: reviews stored and unchanged", response.url)
                self.crawler.stats.inc_value("revmon/caught_up")
            else:
                yield from self.follow(response, page.next_url, self.parse)

    def follow(self, response: Response, url: str, callback: Callable[..., Any]) -> Iterator[Any]:
        """A request for ``url`` if the spider may go there (http(s), an allowed host); a link
        elsewhere is refused and counted, never fetched."""
        absolute = response.urljoin(url)
        problem = off_limits(absolute, self.hosts)
        if problem:
            self.page_done(absolute, "refused", problem)
            return
        yield scrapy.Request(absolute, callback=callback, errback=self.request_failed)

    def request_failed(self, failure: Failure) -> None:
        """Errback of every request: the page was not fetched; say why on the run."""
        request = failure.request
        if failure.check(HttpError):
            response = failure.value.response
            detail = response.meta.get("revmon_gave_up") or f"HTTP {response.status}"
            self.page_done(request.url, f"http_{response.status}", detail)
        elif failure.check(IgnoreRequest):
            message = str(failure.value) or "ignored"
            if request.meta.get("revmon_blocked"):
                self.page_done(request.url, "blocked", message)
            elif "robots.txt" in message:
                self.page_done(request.url, "robots", message)
            else:
                self.page_done(request.url, "refused", message)
        elif failure.check(NotSupported):
            self.page_done(request.url, "refused", str(failure.value))
        else:
            error = failure.value
            self.page_done(request.url, "network", f"{type(error).__name__}: {error}")

    def parse_detail(self, response: Response) -> Iterator[Any]:
        raise NotImplementedError(f"spider {self.name} follows no detail pages")

    def caught_up(self, page: Page) -> bool:
        """Incremental stop: the page holds only stored, unchanged reviews (never with full=1)."""
        if not self.caught_up_allowed():
            return False
        if page.listed_ids:
            return self.stored.all_known(self.platform, page.listed_ids)
        return self.stored.unchanged(self.platform, page.items)

    def caught_up_allowed(self) -> bool:
        return not (self.full or (self.collection is not None and self.collection.full))

    def page_done(self, url: str, outcome: str = "ok", detail: str | None = None) -> None:
        """One page's outcome: counted in the stats and on the crawl run; a failure is logged."""
        self.crawler.stats.inc_value(f"revmon/pages/{outcome}")
        if self.collection is not None:
            self.collection.page(url, outcome, detail)
        if outcome != "ok":
            self.record_error(f"{url}: {detail or outcome}")

    def record_error(self, message: str) -> None:
        """Kept on the spider too (``page_errors``), for runs that store nothing (``-O`` only)."""
        self.logger.error("%s", message)
        self.page_errors.append(message)


def allowed_hosts(start_url: str, allow: str | None) -> set[str]:
    """Where a spider may go: ``host:port`` pairs. The start URL's host on its own port (and, for
    a site on the standard ports, on both 80 and 443, for http/https switches), plus the
    ``allow`` list (``host`` for its standard ports, ``host:port`` for one port). Another port on
    the same machine is another service, and off limits."""
    hosts: set[str] = set()
    for entry in [start_url, *(part.strip() for part in (allow or "").split(","))]:
        if not entry:
            continue
        parts = urlsplit(entry if "//" in entry else f"//{entry}")
        host = (parts.hostname or "").lower()
        if not host:
            continue
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        ports = {80, 443} if port in (None, 80, 443) else {port}
        hosts.update(f"{host}:{number}" for number in ports)
    return hosts


def off_limits(url: str, hosts: set[str]) -> str | None:
    """Why the spider must not fetch ``url`` (another scheme, another host or port), or None."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return f"not an http(s) link ({parts.scheme or 'no scheme'}:)"
    address = f"{(parts.hostname or '').lower()}:{parts.port or _DEFAULT_PORTS[parts.scheme]}"
    if address not in hosts:
        return (
            f"link to another host ({parts.netloc or 'none'}); allowed: {', '.join(sorted(hosts))}"
        )
    return None


_DEFAULT_PORTS = {"http": 80, "https": 443}
