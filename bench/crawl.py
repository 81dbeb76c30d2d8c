"""Benchmark: revmon's Scrapy spider vs a plain sequential httpx + BeautifulSoup loop.

    python bench/crawl.py [--pages 2000] [--latency 0.01] [--concurrency 16] [--store]

A local site in a separate process plays an Otzovik-like source: list pages of 19 review links
each (plus "next"), and review pages with schema.org microdata, ``--pages`` pages in all, each
answered after ``--latency`` seconds (a real site is never 0 ms away). In one run, both sides read
every page and turn each review page into a review record:

- baseline: one ``httpx.Client``, pages fetched one after another, parsed with BeautifulSoup;
- revmon: the real ``otzovik`` spider in a CrawlerProcess (``full=1``, robots.txt read,
  AutoThrottle off so that ``--concurrency`` is what is measured), parsing with extruct;
  ``--store`` also validates and stores every item in a fresh SQLite database.

Prints pages/s and items/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PER_LIST = 19
REVIEW = """<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{n}</title></head>
<body><div class="item review-wrap" itemscope itemtype="http://schema.org/Review">
<div class="user-info" itemprop="author" itemscope itemtype="http://schema.org/Person">
<a class="user-login" href="/profile/u{n}"><span itemprop="name">user{n}</span></a></div>
<div class="rating-score" itemprop="reviewRating" itemscope itemtype="http://schema.org/Rating">
<meta itemprop="worstRating" content="1"><span itemprop="ratingValue">{rating}</span>
<meta itemprop="bestRating" content="5"></div>
<span class="review-postdate"><meta itemprop="datePublished" content="2024-03-{day:02d}"></span>
<h1><span itemprop="name">Отзыв номер {n}</span></h1>
<div class="review-plus">Достоинства: вкусный кофе</div>
<div class="review-minus">Недостатки: очереди</div>
<div class="review-body description" itemprop="description">Отзыв {n}: захожу каждое утро перед
работой, бариста помнят мой заказ. {filler}</div></div></body></html>"""


def site_layout(pages: int) -> tuple[int, int]:
    """(list pages, review pages) adding up to ``pages``."""
    lists = max(1, round(pages / (PER_LIST + 1)))
    return lists, pages - lists


def list_page(index: int, lists: int, reviews: int) -> str:
    first = index * PER_LIST
    numbers = range(first, min(first + PER_LIST, reviews))
    links = "".join(
        f'<div class="item"><a class="review-title" href="/review_{n}.html">R {n}</a></div>'
        for n in numbers
    )
    more = (
        ""
        if index + 1 >= lists
        else f'<a class="pager-item next" href="{list_path(index + 1)}">›</a>'
    )
    return f'<html lang="ru"><body><div class="reviews">{links}</div>{more}</body></html>'


def list_path(index: int) -> str:
    return "/reviews/bench/" if index == 0 else f"/reviews/bench/{index + 1}/"


def serve(port_queue: Any, pages: int, latency: float) -> None:
    """The site, in its own process so that it takes no CPU from either side being measured."""
    lists, reviews = site_layout(pages)
    routes = {list_path(i): list_page(i, lists, reviews) for i in range(lists)}
    filler = "Очень подробный текст отзыва. " * 20
    for n in range(reviews):
        routes[f"/review_{n}.html"] = REVIEW.format(
            n=n, rating=n % 5 + 1, day=n % 28 + 1, filler=filler
        )
    routes["/robots.txt"] = "User-agent: *\nAllow: /\n"
    bodies = {path: body.encode("utf-8") for path, body in routes.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()  # no Nagle: headers and body must not wait for a delayed ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:  # noqa: N802
            time.sleep(latency)
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def baseline(start: str) -> tuple[int, int, float]:
    """Sequential httpx + BeautifulSoup: (pages, items, seconds)."""
    import httpx
    from bs4 import BeautifulSoup

    pages = items = 0
    began = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        url: str | None = start
        while url:
            soup = BeautifulSoup(client.get(url).text, "lxml")
            pages += 1
            for link in soup.select("a.review-title"):
                review = BeautifulSoup(client.get(urljoin(url, link["href"])).text, "lxml")
                pages += 1
                record = {
                    "author": review.select_one('[itemprop="author"] [itemprop="name"]').get_text(),
                    "rating": float(review.select_one('[itemprop="ratingValue"]').get_text()),
                    "published_at": review.select_one('[itemprop="datePublished"]')["content"],
                    "title": review.select_one('h1 [itemprop="name"]').get_text(),
                    "text": " ".join(
                        review.select_one('[itemprop="description"]').get_text().split()
                    ),
                }
                items += bool(record["text"])
            more = soup.select_one("a.pager-item.next")
            url = urljoin(url, more["href"]) if more else None
    return pages, items, time.perf_counter() - began


def with_scrapy(start: str, concurrency: int, store: bool) -> tuple[int, int, float]:
    """The real otzovik spider: (pages, items, seconds from engine start to finish)."""
    from scrapy.crawler import CrawlerProcess

    from pipeline.config import Settings
    from revmon.collection import scrapy_settings

    database = Path(tempfile.mkdtemp()) / "bench.db"
    settings = scrapy_settings(Settings(database_url=f"sqlite:///{database}", log_level="WARNING"))
    settings.setdict(
        {
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "AUTOTHROTTLE_ENABLED": False,
            "DOWNLOAD_DELAY": 0,
            "REVMON_STORE": store,
            "LOGSTATS_INTERVAL": 0,
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    crawler = process.create_crawler("otzovik")
    process.crawl(crawler, url=start, full=True)
    process.start()
    stats = crawler.stats.get_stats()
    seconds = (stats["finish_time"] - stats["start_time"]).total_seconds()
    return stats.get("response_received_count", 0), stats.get("item_scraped_count", 0), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.01, help="seconds per response")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--store", action="store_true", help="also store items (SQLite)")
    args = parser.parse_args()

    ports: Any = multiprocessing.get_context("spawn").Queue()
    site = multiprocessing.get_context("spawn").Process(
        target=serve, args=(ports, args.pages, args.latency), daemon=True
    )
    site.start()
    start = f"http://127.0.0.1:{ports.get(timeout=60)}{list_path(0)}"
    lists, reviews = site_layout(args.pages)
    print(f"site: {args.pages} pages ({lists} list + {reviews} review), "
          f"{args.latency * 1000:.0f} ms per response")  # fmt: skip
    try:
        base = baseline(start)
        report("httpx+BeautifulSoup, sequential", *base)
        mode = "stored in SQLite" if args.store else "not stored"
        ours = with_scrapy(start, args.concurrency, args.store)
        report(f"revmon otzovik spider, {args.concurrency} concurrent, {mode}", *ours)
    finally:
        site.terminate()
    print(
        f"ratio (revmon / sequential): pages/s {ours[0] / ours[2] / (base[0] / base[2]):.1f}x, "
        f"items/s {ours[1] / ours[2] / (base[1] / base[2]):.1f}x"
    )


def report(name: str, pages: int, items: int, seconds: float) -> None:
    print(f"{name}: {pages} pages, {items} items in {seconds:.2f} s -> "
          f"{pages / seconds:.1f} pages/s, {items / seconds:.1f} items/s")  # fmt: skip


if __name__ == "__main__":
    main()
