"""Item pipeline: validate each ReviewItem, then store batches through ``pipeline.ingest``.

Invalid items are dropped with the reason (``DropItem``) and counted on the crawl run; a run
record is opened when the spider opens and closed with counts and a status when it closes.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy.orm import Session, sessionmaker

from crawlers.items import ReviewItem
from pipeline.db import make_engine, migrate, session_factory
from pipeline.ingest import IngestResult, upsert_reviews
from pipeline.models import CrawlRun
from pipeline.normalize import CleanReview, InvalidItem, normalize
from pipeline.runs import finish_run, record_batch, record_errors, start_run

log = logging.getLogger(__name__)


class ReviewStorePipeline:
    """Validate, buffer and upsert items; keep one ``crawl_runs`` row per spider run."""

    def __init__(self, crawler: Crawler, database_url: str, batch_size: int) -> None:
        self.crawler = crawler
        self.database_url = database_url
        self.batch_size = batch_size
        self.buffer: list[CleanReview] = []
        self.sessions: sessionmaker[Session] | None = None
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReviewStorePipeline:
        settings = crawler.settings
        if not settings.getbool("REVMON_STORE", True):
            raise NotConfigured("REVMON_STORE is off")
        url = settings.get("REVMON_DATABASE_URL")
        if not url:
            from pipeline.config import load_settings

            url = load_settings().db_url
        return cls(crawler, url, settings.getint("REVMON_BATCH_SIZE", 200))

    def open_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        engine = make_engine(self.database_url)
        migrate(engine)
        self.sessions = session_factory(engine)
        with self.sessions.begin() as session:
            run = start_run(
                session,
                source=spider.name,
                platform=getattr(spider, "platform", spider.name),
                target=getattr(spider, "start_url", None),
                location_key=getattr(spider, "location_key", None),
            )
            self.run_id = run.id

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        spider = spider or self.crawler.spider
        if isinstance(item, ReviewItem) and not item.location_key:
            item.location_key = getattr(spider, "location_key", None)
        try:
            self.buffer.append(normalize(item))
        except InvalidItem as exc:
            self.crawler.stats.inc_value("revmon/items_invalid")
            self._record_errors([f"{getattr(item, 'external_id', '?')}: {exc}"])
            raise DropItem(f"invalid review item: {exc}") from None
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def flush(self) -> IngestResult:
        """Store the buffered items in one transaction and add the counts to the run."""
        result = IngestResult(received=len(self.buffer))
        if not self.buffer or self.sessions is None:
            return result
        with self.sessions.begin() as session:
            upsert_reviews(session, self.buffer, result)
            record_batch(self._run(session), result)
        self.crawler.stats.inc_value("revmon/items_new", result.new)
        self.crawler.stats.inc_value("revmon/items_updated", result.updated)
        self.buffer = []
        return result

    def close_spider(self, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        self.flush()
        if self.sessions is None:
            return
        stats = self.crawler.stats
        with self.sessions.begin() as session:
            run = self._run(session)
            run.pages = stats.get_value("response_received_count", 0)
            run.platform_total = getattr(spider, "platform_total", None)
            run.platform_rating = getattr(spider, "platform_rating", None)
            record_errors(run, list(getattr(spider, "page_errors", [])))
            finish_run(run, blocked=bool(stats.get_value("revmon/blocked", 0)))
            log.info(
                "crawl run %s (%s): %s items, %s new, %s updated, %s errors, status %s",
                run.id, run.source, run.items, run.new, run.updated, run.errors, run.status,
            )  # fmt: skip

    def _record_errors(self, messages: list[str]) -> None:
        if self.sessions is None:
            return
        with self.sessions.begin() as session:
            record_errors(self._run(session), messages)

    def _run(self, session: Session) -> CrawlRun:
        run = session.get(CrawlRun, self.run_id)
        if run is None:
            raise RuntimeError(f"crawl run {self.run_id} disappeared from the database")
        return run
