"""Distributed mode: N crawler processes on N machines share one Redis queue and dupefilter.

Set ``REVMON_REDIS_URL`` on every machine and run ``revmon crawl`` (same config) on each. For each
job (spider, location, start URL) the processes then share:

- a request queue (scrapy-redis ``PriorityQueue``): any process takes the next page;
- a dupefilter whose entries expire after ``REVMON_REDIS_DEDUP_SECONDS`` (default one hour), so
  no page is fetched twice within a crawl, and the next scheduled crawl fetches afresh without a
  crawl id to agree on;
- a "busy" mark per process, so that a process whose queue ran dry keeps waiting while another
  one may still add pages, instead of closing early.

Keys: ``revmon:{job}:requests`` (sorted set), ``revmon:{job}:seen`` (sorted set, fingerprint ->
time), ``revmon:{job}:busy:{worker}`` (expiring string), with ``job`` = spider, location and a
hash of the start URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import BaseSettings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

log = logging.getLogger(__name__)

# Atomically: seen within the window -> 1; else record it now -> 0.
_SEEN_SCRIPT = """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(ARGV[2]) - tonumber(at) < tonumber(ARGV[3]) then return 1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 0
"""


def use_redis(settings: BaseSettings, redis_url: str) -> None:
    """Switch a Scrapy settings object to the shared Redis scheduler and dupefilter."""
    settings.setdict(
        {
            "REDIS_URL": redis_url,
            "SCHEDULER": "crawlers.distributed.SharedScheduler",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
            "SCHEDULER_PERSIST": True,  # another process may still be working on the queue
            "DUPEFILTER_CLASS": "crawlers.distributed.ExpiringDupeFilter",
        },
        priority="cmdline",
    )
    extensions = {**settings.getdict("EXTENSIONS"), "crawlers.distributed.SharedWorkKeepAlive": 500}
    settings.set("EXTENSIONS", extensions, priority="cmdline")


class DistributedAddon:
    """Scrapy add-on: turns the shared mode on when ``REVMON_REDIS_URL`` is set (env or -s)."""

    def update_settings(self, settings: BaseSettings) -> None:
        redis_url = settings.get("REVMON_REDIS_URL")
        if redis_url:
            use_redis(settings, redis_url)


def job_key(spider: Spider) -> str:
    """``revmon:{spider}:{location}:{hash of the start URL}``: one shared queue per job."""
    start = str(getattr(spider, "start_url", "") or "")
    digest = hashlib.sha1(start.encode("utf-8")).hexdigest()[:12]  # noqa: S324 (a key, not security)
    location = getattr(spider, "location_key", None) or "-"
    return f"revmon:{spider.name}:{location}:{digest}".replace("%", "%%")


class ExpiringDupeFilter(RFPDupeFilter):
    """scrapy-redis' dupefilter with a time window: a page is "seen" for DEDUP_SECONDS only."""

    def __init__(self, server: Any, key: str, debug: bool = False, window: float = 3600.0) -> None:
        super().__init__(server, key, debug)
        self.window = window
        self._seen = server.register_script(_SEEN_SCRIPT)

    @classmethod
    def for_spider(cls, spider: Spider, server: Any) -> ExpiringDupeFilter:
        settings = spider.settings
        return cls(
            server,
            key=f"{job_key(spider)}:seen",
            debug=settings.getbool("DUPEFILTER_DEBUG"),
            window=settings.getfloat("REVMON_REDIS_DEDUP_SECONDS", 3600.0),
        )

    def request_seen(self, request: Request) -> bool:
        fingerprint = self.request_fingerprint(request)
        return bool(self._seen(keys=[self.key], args=[fingerprint, time.time(), self.window]))

    def open(self) -> None:
        """Forget entries older than the window, so the set does not grow without end."""
        self.server.zremrangebyscore(self.key, "-inf", time.time() - self.window)

    def close(self, reason: str = "") -> None:
        """Keep the entries: other processes may still be crawling this job."""


class SharedScheduler(Scheduler):
    """scrapy-redis' scheduler with per-job keys (several jobs may run the same spider)."""

    def open(self, spider: Spider) -> Any:
        self.queue_key = f"{job_key(spider)}:requests"
        self.df = ExpiringDupeFilter.for_spider(spider, self.server)
        self.df.open()
        result = super().open(spider)
        log.info("distributed crawl: sharing %s through Redis", self.queue_key)
        return result

    def close(self, reason: str) -> Any:
        """Keep the shared state for the other processes, but let Redis drop it when unused."""
        self.server.expire(self.df.key, int(self.df.window) + 60)
        return super().close(reason)


class SharedWorkKeepAlive:
    """Keep an idle spider open while the shared queue has pages or another process is busy."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.busy_seconds = crawler.settings.getint("REVMON_REDIS_BUSY_SECONDS", 60)
        self.grace = crawler.settings.getfloat("REVMON_REDIS_START_GRACE", 3.0)
        self.opened_at = time.monotonic()
        self.had_work = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedWorkKeepAlive:
        extension = cls(crawler)
        crawler.signals.connect(extension.mark_busy, signal=signals.request_scheduled)
        crawler.signals.connect(extension.mark_busy, signal=signals.response_received)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def mark_busy(self, *args: Any, **kwargs: Any) -> None:
        self.had_work = True
        scheduler = self._scheduler()
        if scheduler is not None:
            scheduler.server.set(self._busy_key(scheduler), "1", ex=self.busy_seconds)

    def spider_idle(self, spider: Spider) -> None:
        scheduler = self._scheduler()
        if scheduler is None:
            return
        scheduler.server.delete(self._busy_key(scheduler))
        others = list(scheduler.server.scan_iter(f"{job_key(spider)}:busy:*", count=100))
        waiting = len(scheduler.queue) > 0 or bool(others)
        starting = not self.had_work and time.monotonic() - self.opened_at < self.grace
        if waiting or starting:
            raise DontCloseSpider

    def spider_closed(self, spider: Spider) -> None:
        scheduler = self._scheduler()
        if scheduler is not None:
            scheduler.server.delete(self._busy_key(scheduler))

    def _busy_key(self, scheduler: SharedScheduler) -> str:
        return f"{job_key(scheduler.spider)}:busy:{self.worker}"

    def _scheduler(self) -> SharedScheduler | None:
        scheduler = getattr(self.crawler.engine, "scheduler", None)
        return scheduler if isinstance(scheduler, SharedScheduler) else None
