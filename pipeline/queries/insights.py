"""Reads behind the Trends page's insight sections and ``revmon report insights``: recovery,
SCI and NPS per location, aspects split into praise and complaints, the platforms' own displayed
rating and count over time, and KPIs against the previous period. Rollups and small derived
tables only; nothing here scans ``reviews``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pipeline.insight_models import DailyRollup, Recovery
from pipeline.models import CrawlRun, Location
from pipeline.queries import rollup_reads
from pipeline.queries.expressions import day_expr, rollups_ready
from pipeline.queries.filters import Filters, Granularity
from pipeline.queries.inbox import FilterOptions, filter_options
from pipeline.queries.trends import Stats, aspect_trend, summary


@dataclass(frozen=True)
class RecoveryFigures:
    """Of the negative reviews that got an answer, how many authors came round, and how fast."""

    replied: int
    recovered: int
    median_hours: float | None

    @property
    def rate(self) -> float | None:
        return self.recovered / self.replied if self.replied else None


@dataclass(frozen=True)
class AspectSentiment:
    aspect: str
    mentions: int
    positive: int
    negative: int


@dataclass(frozen=True)
class PlatformPoint:
    """What a platform itself displayed for a location in one period (``day``: its first day)."""

    day: date
    location_key: str | None
    location_name: str | None
    platform: str
    rating: float | None
    total: int | None


@dataclass(frozen=True)
class Comparison:
    """A period's figures beside the equally long period just before it."""

    current: Stats
    previous: Stats
    since: datetime
    until: datetime


def recovery(session: Session, filters: Filters) -> RecoveryFigures:
    """Recovery over the filters' window (reviews by publication day); rollups only."""
    stats = summary(session, filters)
    hours = list(
        session.scalars(select(Recovery.hours).where(*rollup_reads.where(Recovery, filters)))
    )
    median = round(statistics.median(hours), 1) if hours else None
    return RecoveryFigures(stats.replied_negative or 0, stats.recovered or 0, median)


def aspect_sentiment(session: Session, filters: Filters) -> list[AspectSentiment]:
    """Per aspect over the window: mentions, praised (positive sentences), criticised."""
    totals: dict[str, list[int]] = {}
    for row in aspect_trend(session, filters, "month"):
        mentions, praised, criticised = totals.setdefault(row.aspect, [0, 0, 0])
        totals[row.aspect] = [mentions + row.mentions, praised + row.praised,
                              criticised + row.criticised]  # fmt: skip
    rows = [AspectSentiment(a, m, p, n) for a, (m, p, n) in totals.items()]
    return sorted(rows, key=lambda r: (-r.mentions, r.aspect))


def public_picture(
    session: Session, filters: Filters, granularity: Granularity = "week"
) -> list[PlatformPoint]:
    """The rating and review count each platform displayed per location and period (the
    period's mean rating and highest count), from the crawl runs that recorded them
    (``crawl_runs.platform_rating`` / ``platform_total``); one SQL aggregate."""
    when = func.coalesce(CrawlRun.finished_at, CrawlRun.started_at)
    period = rollup_reads.period_of(session, day_expr(session, when), granularity)
    query = (
        select(
            period,
            CrawlRun.location_key,
            CrawlRun.platform,
            func.avg(CrawlRun.platform_rating),
            func.max(CrawlRun.platform_total),
        )
        .outerjoin(Location, Location.key == CrawlRun.location_key)
        .where(or_(CrawlRun.platform_rating.is_not(None), CrawlRun.platform_total.is_not(None)))
        .group_by(period, CrawlRun.location_key, CrawlRun.platform)
        .order_by(period, CrawlRun.location_key, CrawlRun.platform)
    )
    if filters.since is not None:
        query = query.where(when >= filters.since)
    if filters.until is not None:
        query = query.where(when < filters.until)
    if filters.locations:
        query = query.where(CrawlRun.location_key.in_(filters.locations))
    elif not filters.include_competitors:
        query = query.where(or_(Location.id.is_(None), Location.is_competitor.is_(False)))
    if filters.platforms:
        query = query.where(CrawlRun.platform.in_(filters.platforms))
    names = location_names(session)
    return [
        PlatformPoint(
            date.fromisoformat(str(day)),
            key,
            names.get(key or "", key),
            platform,
            None if rating is None else round(float(rating), 2),
            None if total is None else int(total),
        )  # fmt: skip
        for day, key, platform, rating, total in session.execute(query)
    ]


def compare_periods(session: Session, filters: Filters, now: datetime | None = None) -> Comparison:
    """The filters' window against the window of equal length before it. Without a start, the
    last 30 days; without an end, up to the end of today (UTC)."""
    now = now or datetime.now(UTC)
    end_of_today = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    until = filters.until or end_of_today
    since = filters.since or until - timedelta(days=30)
    span = until - since
    current = summary(session, replace(filters, since=since, until=until))
    previous = summary(session, replace(filters, since=since - span, until=since))
    return Comparison(current, previous, since, until)


def trend_options(session: Session) -> FilterOptions:
    """The Trends filters' choices from the rollups and ``locations``: the inbox's
    ``filter_options`` scans the reviews for distinct values, which a million rows make slow."""
    if not rollups_ready(session):
        return filter_options(session)
    known = list(session.scalars(select(Location).order_by(Location.name)))
    keys = set(session.scalars(select(DailyRollup.location_key).distinct())) - {""}
    locations = [(loc.key, loc.name, loc.is_competitor) for loc in known]
    locations += [(k, k, False) for k in sorted(keys - {loc.key for loc in known})]
    platforms = sorted(session.scalars(select(DailyRollup.platform).distinct()))
    return FilterOptions(locations=locations, platforms=platforms, languages=[], assignees=[])


def location_names(session: Session) -> dict[str, str]:
    """key -> name for every known location (tables show names, not keys)."""
    return dict(session.execute(select(Location.key, Location.name)).all())
