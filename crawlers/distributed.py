"""Distributed mode: N crawler processes on N machines share one Redis queue and dupefilter.

Set ``REVMON_REDIS_URL`` on every machine and run ``revmon crawl`` (same config) on each. For each
job (spider, location, start URL) the processes then share:

- a request queue (scrapy-redis ``PriorityQueue``): any process takes the next page;
- a dupefilter whose entries expire after ``REVMON_REDIS_DEDUP_SECONDS`` (default one hour), so
  no page is fetched twice within a crawl, and the next scheduled crawl fetches afresh without a
  crawl id to agree on;
- a "busy" mark per process, so that a process whose queue ran dry keeps waiting while another
  one may still add pages, instead of closing early;
- the requests each process has taken but not finished (``inflight``), and an "alive" mark it
  refreshes every few seconds: when a process dies (``kill -9``, a lost machine), its alive mark
  expires and another process puts its unfinished requests back in the queue, dupefilter or not;
- after a run that did not complete (a killed process, a failed page), the next run of the job
  forgets the dupefilter's entries, so it fetches every page again whatever the window.

Keys: ``revmon:{job}:requests`` (sorted set), ``revmon:{job}:seen`` (sorted set, fingerprint ->
time), ``revmon:{job}:busy:{worker}`` and ``revmon:{job}:alive:{worker}`` (expiring strings),
``revmon:{job}:inflight:{worker}`` (hash, fingerprint -> encoded request), with ``job`` = spider,
location and a hash of the start URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from typing import Any

from redis.exceptions import ResponseError
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import BaseSettings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

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
    """scrapy-redis' scheduler with per-job keys (several jobs may run the same spider), and a
    record of the requests this process has taken but not finished."""

    worker: str = ""

    def open(self, spider: Spider) -> Any:
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.job = job_key(spider)
        self.queue_key = f"{self.job}:requests"
        self.df = ExpiringDupeFilter.for_spider(spider, self.server)
        self.df.open()
        result = super().open(spider)
        log.info("distributed crawl: sharing %s through Redis", self.queue_key)
        return result

    def close(self, reason: str) -> Any:
        """Keep the shared state for the other processes, but let Redis drop it when unused."""
        self.server.expire(self.df.key, int(self.df.window) + 60)
        self.server.delete(self.inflight_key(self.worker))
        return super().close(reason)

    def inflight_key(self, worker: str) -> str:
        return f"{self.job}:inflight:{worker}"

    def next_request(self) -> Request | None:
        request = super().next_request()
        if request is not None:
            fingerprint = self.df.request_fingerprint(request)
            encoded = self.queue._encode_request(request)
            self.server.hset(self.inflight_key(self.worker), fingerprint, encoded)
        return request

    def finished(self, request: Request) -> None:
        """The request left the downloader (answered or failed): no longer this process's."""
        self.server.hdel(self.inflight_key(self.worker), self.df.request_fingerprint(request))

    def recover(self, alive: set[str]) -> int:
        """Put back in the queue what dead processes had taken; returns how many requests.

        The dead worker's hash is renamed first (atomic), so two survivors never both requeue
        it; the requests bypass the dupefilter, which saw them when they were first queued."""
        recovered = 0
        prefix = f"{self.job}:inflight:".replace("%%", "%")
        for key in self.server.scan_iter(f"{self.job}:inflight:*", count=100):
            worker = key.decode() if isinstance(key, bytes) else key
            worker = worker[len(prefix) :]
            if worker == self.worker or worker in alive:
                continue
            claimed = f"{self.job}:recovering:{self.worker}"
            try:
                self.server.rename(key, claimed)
            except ResponseError:  # another survivor took it first
                continue
            for encoded in self.server.hvals(claimed):
                self.queue.push(self.queue._decode_request(encoded))
                recovered += 1
            self.server.delete(claimed)
            log.warning("recovered %d unfinished requests of dead worker %s", recovered, worker)
        return recovered


class SharedWorkKeepAlive:
    """Keep an idle spider open while the shared queue has pages or another process is busy;
    show this process alive, and take over the unfinished requests of processes that died."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.busy_seconds = crawler.settings.getint("REVMON_REDIS_BUSY_SECONDS", 60)
        self.alive_seconds = crawler.settings.getfloat("REVMON_REDIS_ALIVE_SECONDS", 15.0)
        self.grace = crawler.settings.getfloat("REVMON_REDIS_START_GRACE", 3.0)
        self.opened_at = time.monotonic()
        self.had_work = False
        self.pulse: task.LoopingCall | None = None

    @property
    def worker(self) -> str:
        scheduler = self._scheduler()
        return scheduler.worker if scheduler is not None else ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedWorkKeepAlive:
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.mark_busy, signal=signals.request_scheduled)
        crawler.signals.connect(extension.mark_busy, signal=signals.response_received)
        crawler.signals.connect(extension.request_left, signal=signals.request_left_downloader)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        """Before the start request is queued: show this process alive, and after a run of this
        job that did not complete, forget what the dupefilter saw (the store pipeline decided
        that the run pages fully; ``spider.collection.full``)."""
        scheduler = self._scheduler()
        if scheduler is None:
            return
        resumes = getattr(getattr(spider, "collection", None), "resumes", None)
        reset = f"{job_key(spider)}:reset:{resumes}"
        if resumes is not None and scheduler.server.set(reset, "1", nx=True, ex=86400):
            # once per incomplete run, not once per process starting on this job
            scheduler.df.clear()
            log.info("distributed crawl: run %s of this job was incomplete; fetching all", resumes)
        self.pulse = task.LoopingCall(self.beat)
        self.pulse.start(max(0.5, self.alive_seconds / 3), now=True)

    def beat(self) -> None:
        scheduler = self._scheduler()
        if scheduler is not None:
            key = f"{job_key(scheduler.spider)}:alive:{scheduler.worker}"
            scheduler.server.set(key, "1", px=int(self.alive_seconds * 1000))

    def request_left(self, request: Request, spider: Spider) -> None:
        scheduler = self._scheduler()
        if scheduler is not None:
            scheduler.finished(request)

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
        alive = self._workers(scheduler, "alive")
        scheduler.recover(alive)
        others = self._workers(scheduler, "busy")
        waiting = len(scheduler.queue) > 0 or bool(others)
        starting = not self.had_work and time.monotonic() - self.opened_at < self.grace
        if waiting or starting:
            raise DontCloseSpider

    def spider_closed(self, spider: Spider) -> None:
        if self.pulse is not None and self.pulse.running:
            self.pulse.stop()
        scheduler = self._scheduler()
        if scheduler is not None:
            scheduler.server.delete(self._busy_key(scheduler))
            scheduler.server.delete(f"{job_key(spider)}:alive:{scheduler.worker}")

    def _busy_key(self, scheduler: SharedScheduler) -> str:
        return f"{job_key(scheduler.spider)}:busy:{scheduler.worker}"

    @staticmethod
    def _workers(scheduler: SharedScheduler, mark: str) -> set[str]:
        """The workers (other than this one) whose ``mark`` key has not expired."""
        prefix = f"{job_key(scheduler.spider)}:{mark}:".replace("%%", "%")
        keys = scheduler.server.scan_iter(f"{job_key(scheduler.spider)}:{mark}:*", count=100)
        names = {(k.decode() if isinstance(k, bytes) else k)[len(prefix) :] for k in keys}
        return names - {scheduler.worker}

    def _scheduler(self) -> SharedScheduler | None:
        scheduler = getattr(self.crawler.engine, "scheduler", None)
        return scheduler if isinstance(scheduler, SharedScheduler) else None
