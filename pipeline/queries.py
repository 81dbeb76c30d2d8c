"""The read side for the dashboard: the inbox, trend aggregates and the state of each source.

Every function takes a session and plain, hashable filter values and returns plain dataclasses, so
the dashboard can cache results with ``st.cache_data`` and tests can compare them field by field.
Aggregates run in SQL (the same statements on SQLite and PostgreSQL, with a dialect switch only for
date buckets, durations and JSON arrays), so a million reviews never travel to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    Float,
    Select,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from pipeline.models import CrawlRun, Location, Review, Sentiment, Triage, utcnow

AWAITING = ("new", "in_progress")
Granularity = Literal["day", "week", "month"]
GroupBy = Literal["location", "platform"]
NPS_BANDS = ((50.0, "good"), (30.0, "fair"), (5.0, "worrying"))

effective_label = func.coalesce(Sentiment.corrected_label, Sentiment.label)


@dataclass(frozen=True)
class Filters:
    """What a person narrowed the view to; empty tuples mean "any". Frozen, so it can be a cache
    key. ``statuses`` empty means "awaiting a response" in the inbox and "any" in trends."""

    locations: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    assignees: tuple[str, ...] = field(default=(), metadata={"doc": '"" selects unassigned'})
    min_rating: float | None = None
    max_rating: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    include_competitors: bool = False


@dataclass(frozen=True)
class InboxItem:
    """One review with everything a responder needs to act on it."""

    review_id: int
    platform: str
    kind: str
    location_key: str | None
    location_name: str | None
    url: str
    author: str | None
    rating: float | None
    title: str | None
    text: str
    language: str | None
    published_at: datetime
    reply_text: str | None
    label: str | None
    model_label: str | None
    corrected_label: str | None
    score: float | None
    aspects: list[str]
    signals: list[str]
    urgency: int | None
    status: str
    assignee: str | None
    due_at: datetime | None
    responded_at: datetime | None
    notes: str | None
    overdue: bool


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    total: int
    overdue: int


@dataclass(frozen=True)
class FilterOptions:
    """The values the filter widgets offer, read from the data."""

    locations: list[tuple[str, str, bool]]  # key, name, is_competitor
    platforms: list[str]
    languages: list[str]
    assignees: list[str]


@dataclass(frozen=True)
class Stats:
    """Volume, stars, negativity, review NPS and responsiveness of one group of reviews."""

    key: str | None
    reviews: int
    rated: int
    avg_rating: float | None
    scored: int
    negative: int
    promoters: int
    passives: int
    detractors: int
    responded: int
    median_response_hours: float | None = None
    is_competitor: bool = False

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.scored if self.scored else None

    @property
    def nps(self) -> float | None:
        """Review NPS: % of 5-star reviews minus % of 1-3 star reviews, over rated reviews."""
        return 100.0 * (self.promoters - self.detractors) / self.rated if self.rated else None

    @property
    def nps_band(self) -> str | None:
        return nps_band(self.nps)

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.reviews if self.reviews else None


@dataclass(frozen=True)
class AspectCount:
    period: date
    aspect: str
    mentions: int
    negative: int


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


def nps_band(nps: float | None) -> str | None:
    """50+ good, 30..50 fair, below 30 worrying, below 5 critical."""
    if nps is None:
        return None
    return next((band for floor, band in NPS_BANDS if nps >= floor), "critical")


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet ``condition`` (0, never NULL, for an empty group)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- filters ---------------------------------------------------------------------------------


def _competitor_keys() -> Select[Any]:
    return select(Location.key).where(Location.is_competitor.is_(True))


def _no_index(column: Any) -> ColumnElement[Any]:
    """SQLite's unary ``+``: the same value, but the planner may not drive the query from an
    index on ``column``. SQLite keeps no value histograms, so it cannot tell that the open
    items are a small slice of ``triage`` and would start from a location's or platform's
    reviews (83k rows at 1M) instead of the open items (thousands): 4x slower."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _conditions(filters: Filters, *, sqlite_queue: bool = False) -> list[ColumnElement[bool]]:
    """WHERE clauses shared by the inbox and the trends (status handled by the caller).
    ``sqlite_queue``: the query starts from the open triage items (see :func:`_no_index`)."""
    where: list[ColumnElement[bool]] = []
    location = _no_index(Review.location_key) if sqlite_queue else Review.location_key
    platform = _no_index(Review.platform) if sqlite_queue else Review.platform
    published = _no_index(Review.published_at) if sqlite_queue else Review.published_at
    if filters.locations:
        where.append(location.in_(filters.locations))
    elif not filters.include_competitors:
        where.append(or_(location.is_(None), location.not_in(_competitor_keys())))
    if filters.platforms:
        where.append(platform.in_(filters.platforms))
    if filters.languages:
        where.append(Review.language.in_(filters.languages))
    if filters.labels:
        where.append(effective_label.in_(filters.labels))
    if filters.aspects:
        text = cast(Sentiment.aspects, Text)
        where.append(or_(*(text.like(f'%"{aspect}"%') for aspect in filters.aspects)))
    if filters.assignees:
        where.append(_assignee_condition(filters.assignees))
    if filters.min_rating is not None:
        where.append(Review.rating >= filters.min_rating)
    if filters.max_rating is not None:
        where.append(Review.rating <= filters.max_rating)
    if filters.since is not None:
        where.append(published >= filters.since)
    if filters.until is not None:
        where.append(published < filters.until)
    if filters.search:
        pattern = f"%{_escape_like(filters.search.lower())}%"
        where.append(func.lower(Review.text).like(pattern, escape="\\"))
    return where


def _assignee_condition(assignees: tuple[str, ...]) -> ColumnElement[bool]:
    named = [a for a in assignees if a]
    parts = [Triage.assignee.in_(named)] if named else []
    if "" in assignees:
        parts.append(Triage.assignee.is_(None))
    return or_(*parts) if parts else false()


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- inbox -----------------------------------------------------------------------------------


def inbox(
    session: Session,
    filters: Filters = Filters(),
    *,
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> InboxPage:
    """Reviews awaiting a response: overdue first, then the most urgent, then the soonest due.

    Only reviews with a triage row are in the queue (triage decides what needs a human).
    """
    now = now or utcnow()
    overdue = _overdue(now)
    queue = _dialect(session) == "sqlite"
    where = [
        Triage.status.in_(filters.statuses or AWAITING),
        *_conditions(filters, sqlite_queue=queue),
    ]
    matching = (
        select(count_if(overdue).label("late"), func.count().label("total"))
        .select_from(Review)
        .join(Triage, Triage.review_id == Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .where(*where)
    )
    overdue_count, total = session.execute(matching).one()
    order = (
        case((overdue, 0), else_=1),
        func.coalesce(Sentiment.urgency, -1).desc(),
        Triage.due_at.asc().nulls_last(),
        Review.published_at.desc(),
        Review.id.desc(),
    )
    query = _item_query(now).where(*where).order_by(*order).limit(limit).offset(offset)
    items = [_item(row) for row in session.execute(query)]
    return InboxPage(items=items, total=int(total), overdue=int(overdue_count))


def inbox_item(
    session: Session, review_id: int, *, now: datetime | None = None
) -> InboxItem | None:
    """One review as the inbox shows it, whatever its status (for the detail view)."""
    row = session.execute(_item_query(now or utcnow()).where(Review.id == review_id)).first()
    return _item(row) if row else None


def _overdue(now: datetime) -> ColumnElement[bool]:
    """Past its due time and still awaiting a response."""
    return and_(Triage.status.in_(AWAITING), Triage.due_at.is_not(None), Triage.due_at < now)


def _item_query(now: datetime) -> Select[Any]:
    overdue = _overdue(now)
    return (
        select(
            Review,
            Location.name.label("location_name"),
            Sentiment.label.label("model_label"),
            Sentiment.corrected_label,
            Sentiment.score,
            Sentiment.aspects,
            Sentiment.signals,
            Sentiment.urgency,
            Triage.status,
            Triage.assignee,
            Triage.due_at,
            Triage.responded_at,
            Triage.notes,
            overdue.label("overdue"),
        )
        .join(Triage, Triage.review_id == Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Location, Location.key == Review.location_key)
    )


def _item(row: Any) -> InboxItem:
    review: Review = row.Review
    return InboxItem(
        review_id=review.id,
        platform=review.platform,
        kind=review.kind,
        location_key=review.location_key,
        location_name=row.location_name,
        url=review.url,
        author=review.author,
        rating=review.rating,
        title=review.title,
        text=review.text,
        language=review.language,
        published_at=review.published_at,
        reply_text=review.reply_text,
        label=row.corrected_label or row.model_label,
        model_label=row.model_label,
        corrected_label=row.corrected_label,
        score=row.score,
        aspects=list(row.aspects or []),
        signals=list(row.signals or []),
        urgency=row.urgency,
        status=row.status,
        assignee=row.assignee,
        due_at=row.due_at,
        responded_at=row.responded_at,
        notes=row.notes,
        overdue=bool(row.overdue),
    )


def filter_options(session: Session) -> FilterOptions:
    """Distinct values for the filter widgets (cache this: it scans indexes)."""
    known = {loc.key: loc for loc in session.scalars(select(Location).order_by(Location.name))}
    keys = session.scalars(
        select(Review.location_key).distinct().where(Review.location_key.is_not(None))
    )
    locations = [(k, loc.name, loc.is_competitor) for k, loc in known.items()]
    locations += [(k, k, False) for k in sorted(set(keys) - known.keys())]

    def distinct(column: Any) -> list[str]:
        return sorted(v for v in session.scalars(select(column).distinct()) if v)

    return FilterOptions(
        locations=locations,
        platforms=distinct(Review.platform),
        languages=distinct(Review.language),
        assignees=distinct(Triage.assignee),
    )


# --- trends ----------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def period_expr(session: Session, granularity: Granularity) -> ColumnElement[str]:
    """The UTC day, Monday-started week or month of ``published_at``, as 'YYYY-MM-DD' text."""
    if granularity not in ("day", "week", "month"):
        raise ValueError(f"granularity must be day, week or month, not {granularity!r}")
    column = Review.published_at
    if _dialect(session) == "postgresql":
        truncated = func.date_trunc(granularity, func.timezone("UTC", column))
        return func.to_char(truncated, "YYYY-MM-DD")
    if granularity == "day":
        return func.strftime("%Y-%m-%d", column)
    if granularity == "week":
        return func.date(column, "-6 days", "weekday 1")
    return func.strftime("%Y-%m-01", column)


def _response_seconds(session: Session) -> ColumnElement[float]:
    """Seconds from publication to the first known response (public reply, else marked)."""
    answered = func.coalesce(Review.reply_at, Triage.responded_at)
    if _dialect(session) == "postgresql":
        return cast(func.extract("epoch", answered - Review.published_at), Float)
    return (func.julianday(answered) - func.julianday(Review.published_at)) * 86400.0


def _stats_columns() -> list[ColumnElement[Any]]:
    label = effective_label
    rating = Review.rating
    responded = or_(Review.reply_at.is_not(None), Triage.responded_at.is_not(None))
    return [
        func.count().label("reviews"),
        func.count(rating).label("rated"),
        func.avg(rating).label("avg_rating"),
        func.count(Sentiment.review_id).label("scored"),
        count_if(label == "negative").label("negative"),
        count_if(rating >= 4.5).label("promoters"),
        count_if(and_(rating >= 3.5, rating < 4.5)).label("passives"),
        count_if(rating < 3.5).label("detractors"),
        count_if(responded).label("responded"),
    ]


def _filtered(query: Select[Any], filters: Filters) -> Select[Any]:
    query = query.outerjoin(Sentiment, Sentiment.review_id == Review.id).outerjoin(
        Triage, Triage.review_id == Review.id
    )
    where = _conditions(filters)
    if filters.statuses:
        where.append(Triage.status.in_(filters.statuses))
    return query.where(*where)


def _grouped_stats(
    session: Session, filters: Filters, group: ColumnElement[Any] | None
) -> dict[Any, Stats]:
    """Stats per value of ``group``, or one ``"all"`` entry when ``group`` is None."""
    key = literal_column("'all'") if group is None else group
    query = _filtered(select(key.label("key"), *_stats_columns()).select_from(Review), filters)
    if group is not None:
        query = query.group_by(group).order_by(group)
    medians = _median_response_hours(session, filters, group)
    return {
        row["key"]: Stats(
            **{name: _number(value) for name, value in row.items()},
            median_response_hours=medians.get(row["key"]),
        )
        for row in session.execute(query).mappings()
        if row["reviews"]
    }


def _number(value: Any) -> Any:
    """PostgreSQL's Decimal sums as int or float, like SQLite returns them."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _median_response_hours(
    session: Session, filters: Filters, group: ColumnElement[Any] | None
) -> dict[Any, float]:
    """Median per group in SQL with window functions (SQLite has no percentile function)."""
    seconds = _response_seconds(session)
    key = literal_column("'all'") if group is None else group
    ranked = _filtered(
        select(
            key.label("key"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=group, order_by=seconds).label("rn"),
            func.count().over(partition_by=group).label("n"),
        ).select_from(Review),
        filters,
    ).where(seconds >= 0)
    sub = ranked.subquery()
    middle = sub.c.rn.between((sub.c.n + 1) // 2, (sub.c.n + 2) // 2)
    query = select(sub.c.key, func.avg(sub.c.seconds)).where(middle).group_by(sub.c.key)
    return {key: float(value) / 3600.0 for key, value in session.execute(query)}


def summary(session: Session, filters: Filters = Filters()) -> Stats:
    """One line of figures for everything the filters select."""
    stats = _grouped_stats(session, filters, None)
    return stats.get("all") or Stats("all", 0, 0, None, 0, 0, 0, 0, 0, 0)


def trend(
    session: Session, filters: Filters = Filters(), granularity: Granularity = "week"
) -> list[Stats]:
    """Stats per period (``key`` is the period's first day, 'YYYY-MM-DD'), oldest first."""
    return list(_grouped_stats(session, filters, period_expr(session, granularity)).values())


def breakdown(
    session: Session, filters: Filters = Filters(), by: GroupBy = "location"
) -> list[Stats]:
    """Stats per location (competitors flagged, for a side-by-side view) or per platform."""
    if by not in ("location", "platform"):
        raise ValueError(f"breakdown by location or platform, not {by!r}")
    column = Review.location_key if by == "location" else Review.platform
    stats = _grouped_stats(session, filters, column)
    if by == "platform":
        return list(stats.values())
    competitors = set(session.scalars(_competitor_keys()))
    return [Stats(**{**vars(s), "is_competitor": s.key in competitors}) for s in stats.values()]


def aspect_trend(
    session: Session, filters: Filters = Filters(), granularity: Granularity = "week"
) -> list[AspectCount]:
    """How often each aspect is mentioned per period, and how often in a negative review."""
    period = period_expr(session, granularity)
    if _dialect(session) == "postgresql":
        elements = func.json_array_elements_text(Sentiment.aspects).table_valued("value")
    else:
        elements = func.json_each(Sentiment.aspects).table_valued("value")
    aspect = elements.c.value
    negative = func.sum(case((effective_label == "negative", 1), else_=0))
    query = (
        select(period, aspect, func.count(), negative)
        .select_from(Review)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Triage, Triage.review_id == Review.id)
        .join(elements, true())
        .where(*_conditions(filters))
        .group_by(period, aspect)
        .order_by(period, aspect)
    )
    return [
        AspectCount(date.fromisoformat(p), str(a), int(n), int(neg or 0))
        for p, a, n, neg in session.execute(query)
    ]


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
        error_log=[str(message) for message in run.error_log[:5]],
        runs_recent=int(runs_recent or 0),
        blocked_recent=int(blocked or 0),
        failed_recent=int(failed or 0),
        platform_total=platform_total,
        platform_rating=platform_rating,
        stored=stored.get((run.platform, run.location_key), 0),
    )


def as_utc(day: date) -> datetime:
    """Midnight UTC of ``day``: how the dashboard turns date pickers into filter bounds."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
