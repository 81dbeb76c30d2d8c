"""The state of each source: last crawl, items, errors, page outcomes, blocked, completeness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    func,
    select,
)
from sqlalchemy.orm import Session

from pipeline.models import CrawlRun, Review, utcnow
from pipeline.queries.filters import count_if


@dataclass(frozen=True)
class SourceStatus:
    """The last run of one source plus its recent record and completeness."""

    source: str
    platform: str
    location_key: str | None
    target: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    items: int
    new: int
    updated: int
    errors: int
    pages: int
    pages_failed: int
    outcomes: dict[str, int]
    complete: bool
    error_log: list[str]
    runs_recent: int
    blocked_recent: int
    failed_recent: int
    platform_total: int | None
    platform_rating: float | None
    stored: int

    @property
    def completeness(self) -> float | None:
        """Stored reviews against the count the platform claims (None where it claims none)."""
        return self.stored / self.platform_total if self.platform_total else None


# --- sources ---------------------------------------------------------------------------------


def source_status(
    session: Session, *, now: datetime | None = None, recent_days: int = 7
) -> list[SourceStatus]:
    """Per source (spider or client, location, target): its last run, the runs of the last days,
    the stored reviews and the platform's claimed total, to judge coverage at a glance."""
    since = (now or utcnow()) - timedelta(days=recent_days)
    key = (CrawlRun.source, CrawlRun.location_key, CrawlRun.target)
    latest_ids = select(func.max(CrawlRun.id)).group_by(*key)
    runs = session.scalars(
        select(CrawlRun).where(CrawlRun.id.in_(latest_ids)).order_by(CrawlRun.source)
    ).all()
    recent = {
        tuple(row[:3]): row[3:]
        for row in session.execute(
            select(
                *key,
                func.count(),
                count_if(CrawlRun.status == "blocked"),
                count_if(CrawlRun.status == "failed"),
            )
            .where(CrawlRun.started_at >= since)
            .group_by(*key)
        )
    }
    totals = {
        tuple(row[:3]): row[3:]
        for row in session.execute(
            select(*key, CrawlRun.platform_total, CrawlRun.platform_rating).where(
                CrawlRun.id.in_(_latest_with_total(key))
            )
        )
    }
    stored = {
        (platform, location): count
        for platform, location, count in session.execute(
            select(Review.platform, Review.location_key, func.count()).group_by(
                Review.platform, Review.location_key
            )
        )
    }
    return [_source_status(run, recent, totals, stored) for run in runs]


def _latest_with_total(key: tuple[Any, ...]) -> Select[Any]:
    return select(func.max(CrawlRun.id)).where(CrawlRun.platform_total.is_not(None)).group_by(*key)


def _source_status(
    run: CrawlRun,
    recent: dict[tuple[Any, ...], Any],
    totals: dict[tuple[Any, ...], Any],
    stored: dict[tuple[Any, ...], int],
) -> SourceStatus:
    key = (run.source, run.location_key, run.target)
    runs_recent, blocked, failed = recent.get(key, (0, 0, 0))
    platform_total, platform_rating = totals.get(key, (None, None))
    return SourceStatus(
        source=run.source,
        platform=run.platform,
        location_key=run.location_key,
        target=run.target,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        items=run.items,
        new=run.new,
        updated=run.updated,
        errors=run.errors,
        pages=run.pages,
        pages_failed=run.pages_failed,
        outcomes={str(name): int(count) for name, count in (run.outcomes or {}).items()},
        complete=run.complete,
        error_log=[str(message) for message in run.error_log[:5]],
        runs_recent=int(runs_recent or 0),
        blocked_recent=int(blocked or 0),
        failed_recent=int(failed or 0),
        platform_total=platform_total,
        platform_rating=platform_rating,
        stored=stored.get((run.platform, run.location_key), 0),
    )
