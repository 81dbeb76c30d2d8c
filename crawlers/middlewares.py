"""Downloader middlewares: polite retries and blocked-page detection.

- :class:`BackoffRetryMiddleware` replaces Scrapy's RetryMiddleware: the same retry codes and
  limits, but each retry waits (exponential backoff), a ``Retry-After`` header (seconds or an HTTP
  date) is honoured, and a 429 also slows the whole download slot so that the other requests to
  that host back off too (AutoThrottle then eases the delay down again).
- :class:`BlockedPageMiddleware` recognises captcha and challenge pages (a redirect to
  ``/showcaptcha``, a captcha form) and drops them: they are counted as ``revmon/blocked`` (the
  crawl run ends ``blocked``), never parsed as a page without reviews.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.response import response_status_message
from twisted.internet import reactor
from twisted.internet.task import deferLater

from crawlers.backoff import backoff_delay, seconds_until

log = logging.getLogger(__name__)

CAPTCHA_URL = re.compile(
    r"/(?:show|check|smart)?captcha(?:/|$)|/cdn-cgi/challenge|/challenge-platform/", re.I
)
CAPTCHA_MARKUP = re.compile(
    rb"""action=["'][^"']*captcha|class=["'][^"']*(CheckboxCaptcha|AdvancedCaptcha|smart-captcha)"""
    rb"""|class=["']g-recaptcha|class=["']h-captcha|id=["']challenge-form|cf-chl-""",
    re.I,
)
MARKUP_SCAN_BYTES = 200_000


def gave_up(crawler: Crawler, request: Request, message: str) -> None:
    """Retries are over for ``request``: logged here; the spider's errback records the page's
    outcome on the crawl run with this reason (``revmon_gave_up`` in the request's meta)."""
    log.warning("%s", message)
    request.meta["revmon_gave_up"] = message


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, spaced out by backoff and by the server's own ``Retry-After``."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("REVMON_RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("REVMON_RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("REVMON_RETRY_AFTER_MAX", 600.0)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        asked = seconds_until(response.headers.get("Retry-After"))
        if asked is not None and asked > self.retry_after_max:
            self.crawler.stats.inc_value("revmon/rate_limited")
            gave_up(
                self.crawler,
                request,
                f"gave up on {request.url}: the site asks to wait {asked:.0f}s (Retry-After), "
                f"more than REVMON_RETRY_AFTER_MAX={self.retry_after_max:.0f}s",
            )
            return response
        if response.status == 429:
            self.crawler.stats.inc_value("revmon/rate_limited")
            self._slow_down(request, asked if asked is not None else self._backoff(request))
        reason = response_status_message(response.status)
        retry = self._retry(request, reason)
        if retry is None:
            gave_up(self.crawler, request, f"gave up on {request.url} after retries: {reason}")
            return response
        await self._sleep(asked if asked is not None else self._backoff(request))
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Any:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            gave_up(self.crawler, request, f"gave up on {request.url} after retries: {exception!r}")
        else:
            await self._sleep(self._backoff(request))
        return retry

    def _backoff(self, request: Request) -> float:
        """1, 2, 4, .. times the base, by the number of retries so far, up to the maximum."""
        retries = request.meta.get("retry_times", 0)
        return backoff_delay(retries, self.backoff_base, self.backoff_max)

    def _slow_down(self, request: Request, seconds: float) -> None:
        """Space requests to this host by at least ``seconds``; AutoThrottle eases it later."""
        engine = self.crawler.engine
        key = request.meta.get("download_slot")
        slot = engine.downloader.slots.get(key) if engine and key else None
        if slot is not None:
            slot.delay = max(slot.delay, min(seconds, self.backoff_max))

    @staticmethod
    async def _sleep(seconds: float) -> None:
        if seconds > 0:
            await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class BlockedPageMiddleware:
    """Drop captcha/challenge pages, counting them as ``revmon/blocked`` on the crawl run."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlockedPageMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location", b"").decode("latin-1")
        blocked = self._captcha_url(location) or self._captcha_url(response.url)
        if not (blocked or self._captcha_markup(response)):
            return response
        message = f"blocked: captcha or challenge page (HTTP {response.status})"
        self.crawler.stats.inc_value("revmon/blocked")
        log.warning("%s for %s", message, request.url)
        request.meta["revmon_blocked"] = True
        raise IgnoreRequest(message)

    @staticmethod
    def _captcha_url(url: str) -> bool:
        return bool(url) and bool(CAPTCHA_URL.search(url.split("?", 1)[0]))

    @staticmethod
    def _captcha_markup(response: Response) -> bool:
        content_type = response.headers.get("Content-Type", b"").lower()
        if b"html" not in content_type:
            return False
        return bool(CAPTCHA_MARKUP.search(response.body[:MARKUP_SCAN_BYTES]))
