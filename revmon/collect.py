"""Run one API client for one target, store what it yields, and leave a ``crawl_runs`` record.

What is kept when something fails depends on the kind of failure:

- :class:`FatalError` (``AuthError``: an expired or revoked token; ``ConfigError``: a missing
  token or a bad TARGET): nothing of the call is stored, even pages fetched before the failure
  (they sit in a savepoint that is rolled back), and no JSON lines are written. The credentials
  were wrong, so what came before cannot be trusted to be the whole or the right picture, and the
  fix is the user's: after it, one clean call fetches everything. The run row records ``failed``
  with the message, and the error is raised (the CLI prints it as one line and exits 2).
- :class:`PageError` (``BadResponse``: malformed JSON or an unexpected shape; ``RequestFailed``:
  still 5xx, 429 or no network after the retries): paging stops, the pages before it are kept,
  the error is counted, and the run is ``degraded`` (``failed`` if no item came through). The
  result is returned, not raised: the data is good, only incomplete.
- a bad record in a good page: counted on the run; the rest of the page is stored.

Incremental stop: pages come newest first, so a page holding a review already stored unchanged
means the rest is known; paging stops there unless ``full`` is set or the previous run of the
same client and target did not end ``ok`` (a gap may lie behind the known reviews then).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.api.base import ApiClient
from crawlers.api.errors import FatalError, PageError
from crawlers.api.registry import client_class
from crawlers.items import ReviewItem
from pipeline.config import Settings
from pipeline.ingest import ingest_items
from pipeline.models import CrawlRun
from pipeline.runs import finish_run, record_batch, record_errors, start_run
from revmon.runtime import build_runtime


@dataclass
class CollectResult:
    """What one call did: the run's counts and status, and whether it stopped at known reviews."""

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
    written: int = 0

    def summary(self) -> str:
        stop = ", stopped at already stored reviews" if self.stopped_at_known else ""
        return (
            f"{self.client} {self.target}: {self.items} items ({self.new} new, {self.updated} "
            f"updated) from {self.pages} pages, {self.errors} errors, status {self.status}{stop} "
            f"(crawl run {self.run_id})"
        )


@dataclass
class Harvest:
    """The stored outcome plus what a caller may still need: the items, the fatal error."""

    result: CollectResult
    items: list[ReviewItem]
    fatal: FatalError | None = None


def collect(
    settings: Settings,
    platform: str,
    target: str,
    *,
    base_url: str | None = None,
    out: Path | None = None,
    location_key: str | None = None,
    full: bool = False,
) -> CollectResult:
    """Run client ``platform`` for ``target`` and store the items; raise FatalError subclasses."""
    cls = client_class(platform)
    runtime = build_runtime(settings)
    location_key = location_key or configured_location(settings, platform, target)
    try:
        with runtime.sessions.begin() as session:
            harvest = asyncio.run(
                _harvest_with_new_client(
                    cls, settings, session, target, base_url, location_key, full
                )
            )
    finally:
        runtime.engine.dispose()
    if harvest.fatal is not None:
        raise harvest.fatal
    if out is not None:
        harvest.result.written = write_jsonl(harvest.items, out)
    return harvest.result


async def _harvest_with_new_client(
    cls: type[ApiClient],
    settings: Settings,
    session: Session,
    target: str,
    base_url: str | None,
    location_key: str | None,
    full: bool,
) -> Harvest:
    async with cls(settings, base_url=base_url) as client:
        return await harvest(session, client, target, location_key=location_key, full=full)


async def harvest(
    session: Session,
    client: ApiClient,
    target: str,
    *,
    location_key: str | None = None,
    full: bool = False,
) -> Harvest:
    """Fetch and store ``target``'s pages inside the caller's transaction (see module docstring)."""
    full = full or not _last_run_ok(session, client.name, target)
    run = start_run(session, client.name, client.platform, target, location_key)
    items: list[ReviewItem] = []
    fatal: FatalError | None = None
    stopped = False
    try:
        with session.begin_nested():
            stopped, page_error = await _store_pages(
                session, run, client, target, location_key, full, items
            )
    except FatalError as exc:
        fatal = exc
        items = []
        run.items = run.new = run.updated = run.errors = run.pages = 0
        run.error_log = []
        page_error = str(exc)
    if page_error:
        record_errors(run, [page_error])
    finish_run(run)  # a fatal error leaves one error and no items: "failed"
    session.flush()
    result = CollectResult(
        run_id=run.id,
        client=client.name,
        target=target,
        status=run.status,
        items=run.items,
        new=run.new,
        updated=run.updated,
        errors=run.errors,
        pages=run.pages,
        error_messages=list(run.error_log),
        stopped_at_known=stopped,
    )
    return Harvest(result, items, fatal)


async def _store_pages(
    session: Session,
    run: CrawlRun,
    client: ApiClient,
    target: str,
    location_key: str | None,
    full: bool,
    collected: list[ReviewItem],
) -> tuple[bool, str | None]:
    """Store page after page; return (stopped at known reviews, the PageError that ended it)."""
    try:
        async for page in client.pages(target):
            run.pages += 1
            for item in page.items:
                item.location_key = item.location_key or location_key
            batch = ingest_items(session, page.items)
            record_batch(run, batch)
            record_errors(run, page.errors)
            collected.extend(page.items)
            run.platform_total = page.total if page.total is not None else run.platform_total
            run.platform_rating = page.rating if page.rating is not None else run.platform_rating
            if batch.unchanged and not full:
                return True, None
    except PageError as exc:
        return False, str(exc)
    return False, None


def _last_run_ok(session: Session, client: str, target: str) -> bool:
    """True when the previous finished run of this client and target ended ``ok``."""
    query = (
        select(CrawlRun.status)
        .where(CrawlRun.source == client, CrawlRun.target == target)
        .where(CrawlRun.finished_at.is_not(None))
        .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
        .limit(1)
    )
    return session.scalar(query) == "ok"


def configured_location(settings: Settings, client: str, target: str) -> str | None:
    """The location whose configured sources include this client and target, if any."""
    for location in settings.locations:
        for source in location.sources:
            if source.platform == client and source.target == target:
                return location.key
    return None


def write_jsonl(items: list[ReviewItem], path: Path) -> int:
    """The items as JSON lines (the ReviewItem fields, ``raw`` included); returns the count."""
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return len(items)
