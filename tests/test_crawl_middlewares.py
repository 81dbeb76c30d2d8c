"""Polite retries (429 + Retry-After, backoff) and captcha pages reported as blocked.

The retry crawl runs the real engine against a local server (a captcha redirect is crawled in
test_spider_yandex_maps, a captcha page in test_spider_otzovik, a Retry-After beyond the limit in
test_crawl_run); the edge cases (HTTP-date Retry-After, captcha markup vs. a review that merely
mentions a captcha) are checked in-process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawlers.backoff import seconds_until as retry_after_seconds
from crawlers.middlewares import BlockedPageMiddleware
from tests.sitesupport import FIXTURES, Reply, SiteServer, scrapy_crawl, stored

START = "/review/example.com?languages=all"  # the trustpilot spider asks for every language
PAGE2 = "/review/example.com?languages=all&page=2"
PAGE3 = "/review/example.com?languages=all&page=3"


def test_429_retry_after_and_503_backoff_are_honoured(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'revmon.db'}"
    with SiteServer() as site:
        site.route(
            START,
            Reply(body="slow down", status=429, headers={"Retry-After": "1"}),
            Reply(file="trustpilot/page1.html"),
        )
        site.route(PAGE2, Reply(body="oops", status=503), Reply(file="trustpilot/page2.html"))
        site.page(PAGE3, "trustpilot/page3.html")
        result = scrapy_crawl(
            "trustpilot", site.url(START), db, tmp_path / "out.jsonl",
            settings={"REVMON_RETRY_BACKOFF_BASE": "0.3"},
        )  # fmt: skip
        assert result.returncode == 0, result.log[-3000:]
        starts = [hit.at for hit in site.hits if hit.path == START]
        page2 = [hit.at for hit in site.hits if hit.path == PAGE2]
    assert len(starts) == 2 and starts[1] - starts[0] >= 1.0  # waited for Retry-After
    assert len(page2) == 2 and page2[1] - page2[0] >= 0.3  # backoff before the retry
    assert len(result.items) == 7
    assert "'revmon/rate_limited': 1" in result.log
    assert "'retry/count': 2" in result.log
    [run] = stored(db).runs
    assert (run["items"], run["status"]) == (7, "degraded")  # page 2's broken blob, not the 429


@pytest.fixture
def blocker() -> BlockedPageMiddleware:
    return BlockedPageMiddleware.from_crawler(get_crawler())


def html(url: str, body: bytes, status: int = 200) -> HtmlResponse:
    return HtmlResponse(url, status=status, body=body, headers={"Content-Type": "text/html"})


def test_captcha_markup_is_recognised(blocker: BlockedPageMiddleware) -> None:
    for name in ("common/showcaptcha.html", "common/otzovik_captcha.html"):
        page = html("https://otzovik.com/reviews/x/", (FIXTURES / name).read_bytes())
        with pytest.raises(IgnoreRequest, match="blocked: captcha"):
            blocker.process_response(Request(page.url), page)
    assert blocker.crawler.stats.get_value("revmon/blocked") == 2


def test_review_pages_mentioning_captcha_pass(blocker: BlockedPageMiddleware) -> None:
    review = html(
        "https://www.trustpilot.com/review/2captcha.com",
        b"<html><body><p>The captcha on checkout is annoying</p>"
        b'<a href="/review/captcha.example">x</a></body></html>',
    )
    assert blocker.process_response(Request(review.url), review) is review
    api = Response(
        "https://public-api.reviews.2gis.com/2.0/branches/1/reviews",
        body=b'{"text": "class=\\"g-recaptcha\\""}',
        headers={"Content-Type": "application/json"},
    )
    assert blocker.process_response(Request(api.url), api) is api
    assert blocker.crawler.stats.get_value("revmon/blocked") is None


def test_retry_after_values() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(later.encode(), now=now.timestamp()) == 90.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now.timestamp()) == 0.0
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None
