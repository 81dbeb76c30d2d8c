"""One collection run per source: the bookkeeping that spiders and API clients share.

A run is opened, receives pages (each page's items stored and committed at once, so nothing
already fetched is lost when something fails later), records what happened to every page
(``ok``, ``empty``, ``http_404``, ``parse_error``, ``blocked``, ``refused``, ``network``, ...),
and is closed with an honest status:

- ``ok``: every page was fetched and parsed and every item stored;
- ``degraded``: some page failed or some item was rejected (each counted, with its reason);
- ``failed``: failures and nothing collected; ``blocked``: the site answered with a captcha;
- ``interrupted``: the process stopped before the end (a shutdown, or it died: a ``running``
  row without a heartbeat for ``stale_after`` is marked so by the next run that looks).

``complete`` records whether the run fetched and parsed every page up to the end or to the
incremental stop. The incremental stop ("this page holds only stored reviews, the rest is older")
is trusted only when every run of the source since its last complete run was complete too; after
a failed or killed run the next one pages past the stored reviews (``full``), so the pages the
failed run never reached are fetched after all.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.ingest import IngestResult, upsert_reviews, validate_items
from pipeline.models import CrawlRun, utcnow
from pipeline.normalize import CleanReview

log = logging.getLogger(__name__)

MAX_LOGGED_ERRORS = 50
STALE_AFTER = timedelta(minutes=3)
HEARTBEAT_EVERY = timedelta(seconds=30)
STORE_ATTEMPTS = 3
OK = "ok"


def process_owner() -> str:
    """``host:pid`` of this process, so a dead run on this machine is recognised at once."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class PageTally:
    """What happened to the pages since the run row was last written."""

    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    total: int | None = None
    rating: float | None = None

    def clear(self) -> None:
        self.outcomes.clear()
        self.errors.clear()


class CollectionRun:
    """One source's run: use ``open``, then ``add_items``/``page``, then ``close``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        run_id: int,
        *,
        full: bool,
        resumes: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.run_id = run_id
        self.full = full
        self.resumes = resumes  # the incomplete run this one makes good, if any
        self.tally = PageTally()
        self.last_write = time.monotonic()

    @classmethod
    def open(
        cls,
        sessions: sessionmaker[Session],
        *,
        source: str,
        platform: str,
        target: str | None,
        location_key: str | None = None,
        full: bool = False,
        owner: str | None = None,
        stale_after: timedelta = STALE_AFTER,
    ) -> CollectionRun:
        """Record the start now (a crash still leaves a trace); decide whether to page fully."""
        with sessions.begin() as session:
            mark_interrupted(session, stale_after=stale_after)
            trusted, broken = stop_is_trusted(session, source, target)
            resume = not trusted
            if broken is not None and not full:
                log.info(
                    "%s %s: run %s did not complete; paging to the end", source, target, broken
                )
            run = CrawlRun(
                source=source,
                platform=platform,
                target=target,
                location_key=location_key,
                full=full or resume,
                owner=owner or process_owner(),
                heartbeat_at=utcnow(),
            )
            session.add(run)
            session.flush()
            return cls(sessions, run.id, full=run.full, resumes=broken)

    # -- during the run -------------------------------------------------------------------------

    def add_items(self, items: Iterable[Any]) -> IngestResult:
        """Validate and store one page's items (see ``store``)."""
        validated = IngestResult()
        return self.store(validate_items(items, validated), validated)

    def store(self, clean: Sequence[CleanReview], validated: IngestResult) -> IngestResult:
        """Store validated reviews in one transaction with the run's counts; ``validated`` holds
        how many items came and the rejected ones with their reasons.

        A lost connection is retried on a fresh one; when the database stays unreachable the
        error is raised and the caller keeps the items (nothing is counted as stored)."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            stored = IngestResult()
            try:
                with self.sessions.begin() as session:
                    upsert_reviews(session, clean, stored)
                    stored.received = validated.received
                    stored.errors += validated.errors
                    stored.error_messages[:0] = validated.error_messages
                    self._write(session, stored)
                return stored
            except DBAPIError as exc:
                retryable = exc.connection_invalidated or isinstance(exc, OperationalError)
                if not retryable or attempt == STORE_ATTEMPTS:
                    raise
                log.warning("storing a page failed (%s); retrying on a fresh connection", exc.orig)
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def page(self, url: str | None, outcome: str = OK, detail: str | None = None) -> None:
        """Record what happened to one page; a failure is logged with its reason and counted."""
        self.tally.outcomes[outcome] += 1
        if outcome != OK:
            message = f"{url}: {detail or outcome}" if url else detail or outcome
            log.warning("page %s: %s", outcome, message)
            self.tally.errors.append(message)

    def rejected_records(self, messages: Iterable[str]) -> None:
        """Records of a page that could not be read (the rest of the page was): errors that
        make the run degraded, though the page itself counts as fetched and parsed."""
        for message in messages:
            log.warning("unreadable record: %s", message)
            self.tally.errors.append(message)

    def facts(self, total: int | None, rating: float | None) -> None:
        """What the platform says about the whole listing (review count, average rating), as
        the first page that says it puts it (later pages may carry other items' aggregates)."""
        if self.tally.total is None:
            self.tally.total = total
        if self.tally.rating is None:
            self.tally.rating = rating

    def heartbeat(self, every: timedelta = HEARTBEAT_EVERY) -> None:
        """Write pending page outcomes and a sign of life, at most once per ``every``."""
        if time.monotonic() - self.last_write < every.total_seconds():
            return
        with self.sessions.begin() as session:
            self._write(session, IngestResult())

    def close(self, *, finished: bool = True) -> CrawlRun:
        """Write the rest and the final status; ``finished`` False: stopped before the end."""
        with self.sessions.begin() as session:
            run = self._write(session, IngestResult())
            finish_run(run, finished=finished)
            session.flush()
            session.expunge(run)
            return run

    def _write(self, session: Session, stored: IngestResult) -> CrawlRun:
        run = session.get(CrawlRun, self.run_id)
        if run is None:
            raise RuntimeError(f"crawl run {self.run_id} disappeared from the database")
        record_batch(run, stored)
        for outcome, count in self.tally.outcomes.items():
            run.pages += count
            if outcome != OK:
                run.pages_failed += count
        run.outcomes = dict(Counter(run.outcomes) + self.tally.outcomes)
        record_errors(run, self.tally.errors)
        if self.tally.total is not None:
            run.platform_total = self.tally.total
        if self.tally.rating is not None:
            run.platform_rating = self.tally.rating
        run.heartbeat_at = utcnow()
        self.tally.clear()
        self.last_write = time.monotonic()
        return run


# -- run records --------------------------------------------------------------------------------


def record_batch(run: CrawlRun, result: IngestResult) -> None:
    """Add one stored batch's counts to the run (rejected items are errors with reasons)."""
    run.items += result.received
    run.new += result.new
    run.updated += result.updated
    run.rejected += result.errors
    record_errors(run, result.error_messages)


def record_errors(run: CrawlRun, messages: list[str]) -> None:
    """Count errors and keep the first few messages; a flood of errors must not bloat the row."""
    run.errors += len(messages)
    room = MAX_LOGGED_ERRORS - len(run.error_log)
    if room > 0 and messages:
        run.error_log = [*run.error_log, *messages[:room]]


def finish_run(run: CrawlRun, *, finished: bool = True, now: datetime | None = None) -> CrawlRun:
    """Close the run with a status a person can act on (module docstring)."""
    run.finished_at = now or utcnow()
    blocked = bool((run.outcomes or {}).get("blocked"))
    collected = run.items - run.rejected
    if not finished:
        run.status = "interrupted"
    elif blocked:
        run.status = "blocked"
    elif run.errors and not collected:
        run.status = "failed"
    elif run.errors:
        run.status = "degraded"
    else:
        run.status = "ok"
    run.complete = finished and not run.pages_failed
    return run


def mark_interrupted(
    session: Session, *, stale_after: timedelta = STALE_AFTER, now: datetime | None = None
) -> list[CrawlRun]:
    """Close the ``running`` rows whose process is gone: on this host a pid that no longer
    exists, anywhere a heartbeat older than ``stale_after``."""
    now = now or utcnow()
    host = socket.gethostname()
    dead = []
    for run in session.scalars(select(CrawlRun).where(CrawlRun.status == "running")):
        seen = run.heartbeat_at or run.started_at
        owner_host, _, pid = (run.owner or "").rpartition(":")
        gone = owner_host == host and pid.isdigit() and not _alive(int(pid))
        if gone or now - seen > stale_after:
            record_errors(run, [f"the collecting process stopped answering after {seen:%H:%M:%S}"])
            # it ended at some moment up to now: count it as running until then, so that a run
            # which overlapped it is not mistaken for the complete picture
            finish_run(run, finished=False, now=now)
            dead.append(run)
    if dead:
        session.flush()
        log.warning("marked %d crawl runs interrupted: %s", len(dead), [r.id for r in dead])
    return dead


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_is_trusted(session: Session, source: str, target: str | None) -> tuple[bool, int | None]:
    """Whether the incremental stop may be used, and the run that forbids it: the source needs a
    complete run, and no incomplete run may have ended after that one began (before it: the
    complete run made good what it missed; after it or overlapping: what it missed may be
    anywhere, as when one of two distributed workers was killed)."""
    same = [CrawlRun.source == source, CrawlRun.target == target]
    last_complete = session.scalar(
        select(func.max(CrawlRun.started_at)).where(*same, CrawlRun.complete.is_(True))
    )
    broken = select(func.max(CrawlRun.id)).where(
        *same, CrawlRun.status != "running", CrawlRun.complete.is_(False)
    )
    if last_complete is not None:
        ended = func.coalesce(CrawlRun.finished_at, CrawlRun.heartbeat_at, CrawlRun.started_at)
        broken = broken.where(ended >= last_complete)
    broken_id = session.scalar(broken)
    return last_complete is not None and broken_id is None, broken_id
