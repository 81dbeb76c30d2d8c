"""Item pipeline: store each spider's items through one ``pipeline.collection.CollectionRun``.

The run is opened with the spider and handed to it (``spider.collection``), so that the spider
records each page's outcome on the same run; items are validated and stored here in small
batches. A batch is committed when it is full, a second after the last commit, when the crawl
goes idle and at the end, so a crash loses at most the page in hand, and that page is fetched
again by the next run (the run is left incomplete). A batch the database cannot take because the
connection was lost stays buffered and is retried on a fresh connection. A bad item is counted on
the run with its reason (``DropItem`` keeps it out of ``-O`` feeds) and never holds back others.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from twisted.internet import task

from crawlers.items import ReviewItem
from pipeline.collection import CollectionRun
from pipeline.db import make_engine, migrate, session_factory
from pipeline.ingest import IngestResult, describe
from pipeline.normalize import CleanReview, InvalidItem, normalize

log = logging.getLogger(__name__)


class ReviewStorePipeline:
    """Validate, buffer and store items; one ``crawl_runs`` row per spider run."""

    def __init__(
        self, crawler: Crawler, database_url: str, batch_size: int, flush_s: float
    ) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.batch_size = batch_size
        self.flush_s = flush_s
        self.buffer: list[CleanReview] = []
        self.validated = IngestResult()
        self.engine: Engine | None = None
        self.run: CollectionRun | None = None
        self.last_flush = time.monotonic()
        self.ticker: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReviewStorePipeline:
        settings = crawler.settings
        if not settings.getbool("REVMON_STORE", True):
            raise NotConfigured("REVMON_STORE is off")
        url = settings.get("REVMON_DATABASE_URL")
        if not url:
            from pipeline.config import load_settings

            url = load_settings().db_url
        pipeline = cls(
            crawler,
            url,
            settings.getint("REVMON_BATCH_SIZE", 100),
            settings.getfloat("REVMON_FLUSH_SECONDS", 1.0),
        )
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        self.engine = make_engine(self.database_url)
        migrate(self.engine)
        settings = self.crawler.settings
        self.run = CollectionRun.open(
            session_factory(self.engine),
            source=spider.name,
            platform=getattr(spider, "platform", spider.name),
            target=getattr(spider, "start_url", None),
            location_key=getattr(spider, "location_key", None),
            full=bool(getattr(spider, "full", False)),
            stale_after=timedelta(seconds=settings.getfloat("REVMON_RUN_STALE_SECONDS", 180)),
        )
        spider.collection = self.run
        self.ticker = task.LoopingCall(self.tick)
        self.ticker.start(min(self.flush_s, 1.0), now=False)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        spider = spider or self.crawler.spider
        if isinstance(item, ReviewItem) and not item.location_key:
            item.location_key = getattr(spider, "location_key", None)
        self.validated.received += 1
        try:
            self.buffer.append(normalize(item))
        except InvalidItem as exc:
            self.crawler.stats.inc_value("revmon/items_invalid")
            self.validated.reject(describe(item), str(exc))  # counted on the run at the flush
            raise DropItem(f"invalid review item: {exc}") from None
        finally:
            if len(self.buffer) >= self.batch_size or self._due():
                self.flush()
        return item

    def _due(self) -> bool:
        return time.monotonic() - self.last_flush >= self.flush_s

    def flush(self) -> None:
        """Store the buffered items; on a lost database keep them for the next try."""
        self.last_flush = time.monotonic()
        if not (self.buffer or self.validated.received) or self.run is None:
            return
        batch, self.buffer = self.buffer, []
        validated, self.validated = self.validated, IngestResult()
        try:
            result = self.run.store(batch, validated)
        except DBAPIError as exc:
            self.buffer = batch + self.buffer
            validated.add(self.validated)
            self.validated = validated
            log.error("could not store %d items yet: %s", len(batch), exc.orig)
            return
        self.crawler.stats.inc_value("revmon/items_new", result.new)
        self.crawler.stats.inc_value("revmon/items_updated", result.updated)

    def tick(self) -> None:
        """Every second: commit what waits, and tell the database this run is alive."""
        if self.buffer or self.validated.received:
            self.flush()
        if self.run is not None:
            try:
                self.run.heartbeat()
            except DBAPIError as exc:
                log.error("crawl run heartbeat failed: %s", exc.orig)

    def spider_idle(self, spider: Spider) -> None:
        self.flush()

    def close_spider(self, spider: Spider | None = None) -> None:
        if self.ticker is not None and self.ticker.running:
            self.ticker.stop()
        self.flush()
        if self.buffer:
            self.flush()  # one more try on a fresh connection before giving up

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Close the run with the reason Scrapy stopped: ``finished`` is the only natural end."""
        if self.run is None:
            return
        if self.buffer:
            self.run.page(None, "store_error", f"{len(self.buffer)} items could not be stored")
        try:
            run = self.run.close(finished=reason == "finished" and not self.buffer)
        except DBAPIError as exc:
            log.error("could not close crawl run %s: %s", self.run.run_id, exc.orig)
            return
        finally:
            if self.engine is not None:
                self.engine.dispose()
        log.info(
            "crawl run %s (%s): %s items, %s new, %s updated, %s errors, %s pages failed, "
            "status %s", run.id, run.source, run.items, run.new, run.updated, run.errors,
            run.pages_failed, run.status,
        )  # fmt: skip
