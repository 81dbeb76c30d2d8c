"""``crawl_runs``: one record per spider or client run: what each source gave, and how it went."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.ingest import IngestResult
from pipeline.models import CrawlRun, utcnow

MAX_LOGGED_ERRORS = 50


def start_run(
    session: Session,
    source: str,
    platform: str,
    target: str | None = None,
    location_key: str | None = None,
) -> CrawlRun:
    """Open a run record now, so a crash still leaves a trace of the attempt."""
    run = CrawlRun(source=source, platform=platform, target=target, location_key=location_key)
    session.add(run)
    session.flush()
    return run


def record_batch(run: CrawlRun, result: IngestResult) -> None:
    """Add one ingested batch's counts to the run."""
    run.items += result.received
    run.new += result.new
    run.updated += result.updated
    record_errors(run, result.error_messages)


def record_errors(run: CrawlRun, messages: list[str]) -> None:
    """Count errors and keep the first few messages; a flood of errors must not bloat the row."""
    run.errors += len(messages)
    room = MAX_LOGGED_ERRORS - len(run.error_log)
    if room > 0 and messages:
        run.error_log = [*run.error_log, *messages[:room]]


def finish_run(run: CrawlRun, *, blocked: bool = False, now: datetime | None = None) -> CrawlRun:
    """Close the run with a status a person can act on.

    ``blocked``: the site answered with a captcha or a ban; ``failed``: errors and not one item
    came through; ``degraded``: some pages or items failed; ``ok`` otherwise.
    """
    run.finished_at = now or utcnow()
    if blocked:
        run.status = "blocked"
    elif run.errors and not run.items:
        run.status = "failed"
    elif run.errors:
        run.status = "degraded"
    else:
        run.status = "ok"
    return run
