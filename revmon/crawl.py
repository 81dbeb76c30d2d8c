"""Run the spiders for the configured sources: ``revmon crawl`` and ``revmon demo`` call this.

All jobs share one Scrapy ``CrawlerProcess`` (one reactor, one log, the download slots per host
shared), configured from revmon's settings: database, user agent, robots.txt, log level, and
Redis for the distributed mode when ``REVMON_REDIS_URL`` is set.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings
from scrapy.spiderloader import SpiderLoader
from sqlalchemy import select

from pipeline.config import Settings
from pipeline.models import CrawlRun, utcnow
from revmon.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpiderJob:
    """One spider run: which spider, from which start URL, for which location."""

    spider: str  # spider name (source.name or source.platform)
    url: str  # START_URL
    location_key: str | None = None
    full: bool = False


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
        },
        priority="cmdline",
    )
    if settings.redis_url:  # crawlers.distributed.DistributedAddon switches the scheduler
        result.set("REVMON_REDIS_URL", settings.redis_url, priority="cmdline")
    return result


def spider_names() -> set[str]:
    """The spiders this installation has (``scrapy list``)."""
    project = ScrapySettings()
    project.setmodule("crawlers.settings", priority="project")
    return set(SpiderLoader.from_settings(project).list())


def jobs_for(settings: Settings, only: Sequence[str] = ()) -> list[SpiderJob]:
    """A job per configured source with a ``url``; ``only`` keeps platforms, spiders or locations.

    A source whose platform has no spider (an API-only platform given a URL) is skipped with a
    warning rather than stopping every other crawl.
    """
    known = spider_names()
    wanted = set(only)
    jobs: list[SpiderJob] = []
    for location in settings.locations:
        for source in location.sources:
            spider = source.name or source.platform
            if not source.url or (wanted and not wanted & {source.platform, spider, location.key}):
                continue
            if spider not in known:
                log.warning(
                    "location %s: no spider %r for %s; known: %s",
                    location.key, spider, source.url, ", ".join(sorted(known)),
                )  # fmt: skip
                continue
            jobs.append(SpiderJob(spider, source.url, location.key))
    return jobs


def run_spiders(settings: Settings, jobs: Sequence[SpiderJob]) -> None:
    """Run every job in ONE CrawlerProcess and block until all are done.

    Twisted's reactor runs once per process: a long-running caller starts ``revmon crawl`` as a
    child process for each crawl (as ``revmon run`` does) instead of calling this twice.
    """
    if not jobs:
        log.info("nothing to crawl: no configured source has a url")
        return
    if _reactor_has_run():
        raise RuntimeError(
            "run_spiders() runs once per process (Twisted's reactor cannot restart); "
            "run `revmon crawl` in a child process for each crawl"
        )
    scrapy = scrapy_settings(settings)
    # Scrapy's own log handler only where the entry point has not configured logging already.
    scrapy.set("LOG_INSTALL_ROOT_HANDLER", not logging.getLogger().handlers, priority="cmdline")
    process = CrawlerProcess(scrapy)
    for job in jobs:
        process.crawl(job.spider, url=job.url, location=job.location_key, full=job.full)
    process.start()


def _reactor_has_run() -> bool:
    reactor = sys.modules.get("twisted.internet.reactor")
    return bool(getattr(reactor, "_startedBefore", False))


@dataclass
class CrawlSummary:
    """What ``revmon crawl`` tells: a line per run, and whether any run failed or was blocked."""

    lines: list[str]
    troubled: int


def crawl_configured(
    runtime: Runtime, only: Sequence[str] = (), full: bool = False
) -> CrawlSummary:
    """``revmon crawl``: run the configured sources (or those ``only`` names) and summarise."""
    jobs = jobs_for(runtime.settings, only)
    if not jobs:
        wanted = f" matching {', '.join(only)}" if only else ""
        raise ValueError(f"no configured source with a url{wanted}; see revmon.example.toml")
    started = utcnow()
    run_spiders(runtime.settings, [replace(job, full=full) for job in jobs])
    with runtime.sessions() as session:
        runs = list(
            session.scalars(
                select(CrawlRun).where(CrawlRun.started_at >= started).order_by(CrawlRun.id)
            )
        )
        return CrawlSummary(
            lines=[summary_line(run) for run in runs],
            troubled=sum(run.status in {"failed", "blocked"} for run in runs),
        )


def summary_line(run: CrawlRun) -> str:
    """``trustpilot [loc] ok: 7 items, 2 new, 1 updated, 0 errors, 4 pages, site says 1234``."""
    total = f", site says {run.platform_total} reviews" if run.platform_total is not None else ""
    return (
        f"{run.source} [{run.location_key or '-'}] {run.status}: {run.items} items, "
        f"{run.new} new, {run.updated} updated, {run.errors} errors, {run.pages} pages{total}"
    )
