"""Collect sources: ``revmon crawl`` (every configured source), ``revmon collect`` (one API
target), the service and the demo all come through here.

Both kinds of collector share one run per source (``pipeline.collection.CollectionRun``): pages
are stored as they come, each page's outcome is recorded, and the run closes with an honest
status. API clients run first, concurrently, on asyncio; then every spider runs in one Scrapy
``CrawlerProcess`` (one reactor per process: a long-running caller starts ``revmon crawl`` as a
child, as ``revmon run`` does).

What an API failure does to the run:

- :class:`FatalError` (``AuthError``: an expired or revoked token; ``ConfigError``: a missing
  token or a bad TARGET): paging stops; pages stored before it are kept; the run is ``failed``
  (or ``degraded`` when pages came through) with the message; ``revmon collect`` exits 2.
- :class:`PageError` (a malformed page, a 5xx or 429 beyond the retries, a next-page URL on
  another host): paging stops, the pages before it are kept, the run is ``degraded`` (``failed``
  if nothing came through) and incomplete, so the next run pages to the end again.
- a bad record in a good page: counted on the run; the rest of the page is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.api.base import ApiClient
from crawlers.api.errors import (
    AuthError,
    BadResponse,
    FatalError,
    NetworkError,
    PageError,
    RateLimited,
    RefusedUrl,
    ServerError,
)
from crawlers.items import ReviewItem
from crawlers.sources import api_client
from pipeline.collection import CollectionRun, process_owner
from pipeline.config import Settings
from pipeline.models import CrawlRun, utcnow
from revmon.runtime import Runtime
from revmon.sources import Source

log = logging.getLogger(__name__)

API_OUTCOMES: tuple[tuple[type[Exception], str], ...] = (
    (RefusedUrl, "refused"),
    (BadResponse, "parse_error"),
    (RateLimited, "rate_limited"),
    (ServerError, "server_error"),
    (NetworkError, "network"),
    (AuthError, "auth_error"),
    (FatalError, "config_error"),
    (PageError, "error"),
)


@dataclass
class CollectResult:
    """What one API call did: the run's counts and status, and whether it stopped at known
    reviews."""

    run_id: int
    client: str
    target: str
    status: str
    items: int = 0
    new: int = 0
    updated: int = 0
    errors: int = 0
    pages: int = 0
    error_messages: list[str] = field(default_factory=list)
    stopped_at_known: bool = False

    @classmethod
    def of(cls, run: CrawlRun, stopped_at_known: bool) -> CollectResult:
        return cls(
            run_id=run.id,
            client=run.source,
            target=run.target or "",
            status=run.status,
            items=run.items,
            new=run.new,
            updated=run.updated,
            errors=run.errors,
            pages=run.pages,
            error_messages=list(run.error_log),
            stopped_at_known=stopped_at_known,
        )

    def summary(self) -> str:
        stop = ", stopped at already stored reviews" if self.stopped_at_known else ""
        return (
            f"{self.client} {self.target}: {self.items} items ({self.new} new, {self.updated} "
            f"updated) from {self.pages} pages, {self.errors} errors, status {self.status}{stop} "
            f"(crawl run {self.run_id})"
        )


@dataclass
class Harvest:
    """One API source's run: the outcome, the items it stored, the fatal error if any."""

    result: CollectResult
    items: list[ReviewItem] = field(default_factory=list)
    fatal: FatalError | None = None


@dataclass
class CollectSummary:
    """What a collection pass tells: a line per run, and how many runs were not ``ok``."""

    runs: list[CrawlRun]
    fatal: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [summary_line(run) for run in self.runs]

    @property
    def troubled(self) -> int:
        return sum(run.status != "ok" for run in self.runs)


def collect(runtime: Runtime, sources: Sequence[Source], *, full: bool = False) -> CollectSummary:
    """Collect ``sources`` (API clients, then spiders) and summarise this process's runs."""
    owner = process_owner()
    started = utcnow()
    api = [s for s in sources if s.kind.collector == "api"]
    spiders = [s for s in sources if s.kind.collector == "spider"]
    fatal: list[str] = []
    if api:
        # SIGTERM (the service stopping, systemd) ends the API phase like Ctrl-C: each open run
        # is closed as interrupted before the process exits
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        harvests = asyncio.run(_harvest_sources(runtime, api, full))
        fatal = [str(h.fatal) for h in harvests if h.fatal is not None]
    if spiders:
        run_spiders(runtime.settings, spiders, full=full)
    with runtime.sessions() as session:
        runs = session.scalars(
            select(CrawlRun)
            .where(CrawlRun.owner == owner, CrawlRun.started_at >= started)
            .order_by(CrawlRun.id)
        ).all()
        session.expunge_all()
    return CollectSummary(list(runs), fatal)


async def _harvest_sources(
    runtime: Runtime, sources: Sequence[Source], full: bool
) -> list[Harvest]:
    async def one(source: Source) -> Harvest:
        async with api_client(source.kind.name)(runtime.settings) as client:
            return await harvest(
                runtime.sessions,
                client,
                source.target or "",
                location_key=source.location_key,
                full=full,
                stale_after=_stale_after(runtime.settings),
            )

    return list(await asyncio.gather(*(one(source) for source in sources)))


def collect_one(
    settings: Settings,
    sessions: sessionmaker[Session],
    name: str,
    target: str,
    *,
    base_url: str | None = None,
    out: Path | None = None,
    location_key: str | None = None,
    full: bool = False,
) -> Harvest:
    """``revmon collect NAME TARGET``: one API client, one target, optionally JSON lines out."""
    cls = api_client(name)
    location_key = location_key or configured_location(settings, name, target)

    async def run() -> Harvest:
        async with cls(settings, base_url=base_url) as client:
            return await harvest(
                sessions,
                client,
                target,
                location_key=location_key,
                full=full,
                stale_after=_stale_after(settings),
            )

    result = asyncio.run(run())
    if out is not None and result.fatal is None:
        write_jsonl(result.items, out)
    return result


async def harvest(
    sessions: sessionmaker[Session],
    client: ApiClient,
    target: str,
    *,
    location_key: str | None = None,
    full: bool = False,
    stale_after: timedelta | None = None,
) -> Harvest:
    """Fetch ``target``'s pages and store each as it comes (see the module docstring)."""
    run = CollectionRun.open(
        sessions,
        source=client.name,
        platform=client.platform,
        target=target,
        location_key=location_key,
        full=full,
        **({"stale_after": stale_after} if stale_after else {}),
    )
    items: list[ReviewItem] = []
    fatal: FatalError | None = None
    stopped = False
    try:
        stopped = await _store_pages(run, client, target, location_key, items)
    except (PageError, FatalError) as exc:
        run.page(None, _outcome(exc), str(exc))
        fatal = exc if isinstance(exc, FatalError) else None
    except (asyncio.CancelledError, KeyboardInterrupt):  # SIGTERM/SIGINT: say so, then stop
        run.close(finished=False)
        raise
    finished = run.close(finished=True)
    log.info("%s", summary_line(finished))
    return Harvest(CollectResult.of(finished, stopped), items, fatal)


async def _store_pages(
    run: CollectionRun,
    client: ApiClient,
    target: str,
    location_key: str | None,
    items: list[ReviewItem],
) -> bool:
    """Store page after page; True when a page of known reviews ended the paging early."""
    async for page in client.pages(target):
        for item in page.items:
            item.location_key = item.location_key or location_key
        stored = run.add_items(page.items)
        run.rejected_records(page.errors)
        run.facts(page.total, page.rating)
        run.page(None)
        items.extend(page.items)
        if stored.unchanged and not run.full:
            return True
    return False


def _outcome(exc: Exception) -> str:
    return next(name for kind, name in API_OUTCOMES if isinstance(exc, kind))


def _stale_after(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.service.run_stale_seconds)


def configured_location(settings: Settings, client: str, target: str) -> str | None:
    """The location whose configured sources include this client and target, if any."""
    for location in settings.locations:
        for source in location.sources:
            if client in (source.name, source.platform) and source.target == target:
                return location.key
    return None


def write_jsonl(items: list[ReviewItem], path: Path) -> int:
    """The items as JSON lines (the ReviewItem fields, ``raw`` included); returns the count."""
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return len(items)


# -- spiders ------------------------------------------------------------------------------------


def scrapy_settings(settings: Settings) -> ScrapySettings:
    """``crawlers.settings`` with revmon's own values on top (they win over the environment)."""
    result = ScrapySettings()
    result.setmodule("crawlers.settings", priority="project")
    result.setdict(
        {
            "REVMON_DATABASE_URL": settings.db_url,
            "USER_AGENT": settings.user_agent,
            "ROBOTSTXT_OBEY": settings.obey_robots,
            "LOG_LEVEL": settings.log_level,
            "REVMON_RUN_STALE_SECONDS": settings.service.run_stale_seconds,
        },
        priority="cmdline",
    )
    if settings.redis_url:  # crawlers.distributed.DistributedAddon switches the scheduler
        result.set("REVMON_REDIS_URL", settings.redis_url, priority="cmdline")
    return result


def run_spiders(settings: Settings, sources: Sequence[Source], *, full: bool = False) -> None:
    """Run every spider source in ONE CrawlerProcess and block until all are done.

    Twisted's reactor runs once per process: a long-running caller starts ``revmon crawl`` as a
    child process for each crawl (as ``revmon run`` does) instead of calling this twice.
    """
    if _reactor_has_run():
        raise RuntimeError(
            "run_spiders() runs once per process (Twisted's reactor cannot restart); "
            "run `revmon crawl` in a child process for each crawl"
        )
    scrapy = scrapy_settings(settings)
    # Scrapy's own log handler only where the entry point has not configured logging already.
    scrapy.set("LOG_INSTALL_ROOT_HANDLER", not logging.getLogger().handlers, priority="cmdline")
    process = CrawlerProcess(scrapy)
    for source in sources:
        start = {"url": source.url} if source.url else {"target": source.target}
        allow = {"allow": ",".join(source.allow_hosts)} if source.allow_hosts else {}
        process.crawl(source.kind.name, location=source.location_key, full=full, **start, **allow)
    process.start()


def _reactor_has_run() -> bool:
    reactor = sys.modules.get("twisted.internet.reactor")
    return bool(getattr(reactor, "_startedBefore", False))


def summary_line(run: CrawlRun) -> str:
    """``trustpilot [loc] ok: 7 items, 2 new, 1 updated, 0 errors, 4 pages, site says 1234``."""
    total = f", site says {run.platform_total} reviews" if run.platform_total is not None else ""
    failed = f" ({run.pages_failed} failed)" if run.pages_failed else ""
    return (
        f"{run.source} [{run.location_key or '-'}] {run.status}: {run.items} items, "
        f"{run.new} new, {run.updated} updated, {run.errors} errors, {run.pages} pages"
        f"{failed}{total}"
    )
