"""Trend aggregates: volume, rating, share negative, review NPS, SCI, response rate and time.

Each public function reads the daily rollups when they can answer the filters
(``rollup_reads.answerable``) and the raw tables otherwise; both give the same figures (the
medians of response time within their histogram bucket), which tests/test_rollups.py checks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Float,
    Select,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.insight_models import AspectRollup, DailyRollup
from pipeline.models import Review, Sentiment, Triage
from pipeline.queries import rollup_reads
from pipeline.queries.expressions import aspect_elements
from pipeline.queries.filters import (
    Filters,
    Granularity,
    GroupBy,
    competitor_keys,
    conditions,
    count_if,
    dialect,
    effective_label,
)

NPS_BANDS = ((50.0, "good"), (30.0, "fair"), (5.0, "worrying"))


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
    neutral: int = 0
    positive: int = 0
    mixed: int = 0
    checked: int = 0
    sci_satisfied: int = 0
    sci_return: int = 0
    sci_recommend: int = 0
    sci_secure: int = 0
    replied_negative: int | None = None  # from the rollups only (it reads every version)
    recovered: int | None = None

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

    @property
    def sci_share(self) -> float | None:
        """Burke's Secure Customer Index from reviews: share showing all three signals."""
        return self.sci_secure / self.scored if self.scored else None

    @property
    def recovery_rate(self) -> float | None:
        if not self.replied_negative:
            return None
        return (self.recovered or 0) / self.replied_negative


@dataclass(frozen=True)
class AspectCount:
    """Mentions of an aspect in a period; ``praised``/``criticised`` count the mentions whose
    sentences were positive/negative (a 1-star review can still praise the food)."""

    period: date
    aspect: str
    mentions: int
    negative: int
    praised: int = 0
    criticised: int = 0


def nps_band(nps: float | None) -> str | None:
    """50+ good, 30..50 fair, below 30 worrying, below 5 critical."""
    if nps is None:
        return None
    return next((band for floor, band in NPS_BANDS if nps >= floor), "critical")


# --- trends ----------------------------------------------------------------------------------


def period_expr(session: Session, granularity: Granularity) -> ColumnElement[str]:
    """The UTC day, Monday-started week or month of ``published_at``, as 'YYYY-MM-DD' text."""
    if granularity not in ("day", "week", "month"):
        raise ValueError(f"granularity must be day, week or month, not {granularity!r}")
    column = Review.published_at
    if dialect(session) == "postgresql":
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
    if dialect(session) == "postgresql":
        return cast(func.extract("epoch", answered - Review.published_at), Float)
    return (func.julianday(answered) - func.julianday(Review.published_at)) * 86400.0


def _stats_columns() -> list[ColumnElement[Any]]:
    label = effective_label
    rating = Review.rating
    responded = or_(Review.reply_at.is_not(None), Triage.responded_at.is_not(None))
    uncorrected = Sentiment.corrected_label.is_(None)
    sci = (Sentiment.sci_satisfied, Sentiment.sci_return, Sentiment.sci_recommend)
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
        count_if(label == "neutral").label("neutral"),
        count_if(label == "positive").label("positive"),
        count_if(and_(Sentiment.mixed.is_(True), uncorrected)).label("mixed"),
        count_if(and_(Sentiment.needs_check.is_(True), uncorrected)).label("checked"),
        count_if(Sentiment.sci_satisfied == 1).label("sci_satisfied"),
        count_if(Sentiment.sci_return == 1).label("sci_return"),
        count_if(Sentiment.sci_recommend == 1).label("sci_recommend"),
        count_if(and_(*(c == 1 for c in sci))).label("sci_secure"),
    ]


def _filtered(query: Select[Any], filters: Filters) -> Select[Any]:
    query = query.outerjoin(Sentiment, Sentiment.review_id == Review.id).outerjoin(
        Triage, Triage.review_id == Review.id
    )
    where = conditions(filters)
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


def raw_summary(session: Session, filters: Filters = Filters()) -> Stats:
    """One line of figures for everything the filters select, from the raw tables."""
    stats = _grouped_stats(session, filters, None)
    return stats.get("all") or Stats("all", 0, 0, None, 0, 0, 0, 0, 0, 0)


def raw_trend(
    session: Session, filters: Filters = Filters(), granularity: Granularity = "week"
) -> list[Stats]:
    """Stats per period (``key`` is the period's first day, 'YYYY-MM-DD'), oldest first."""
    return list(_grouped_stats(session, filters, period_expr(session, granularity)).values())


def raw_breakdown(
    session: Session, filters: Filters = Filters(), by: GroupBy = "location"
) -> list[Stats]:
    """Stats per location (competitors flagged, for a side-by-side view) or per platform."""
    _check_group(by)
    column = Review.location_key if by == "location" else Review.platform
    stats = _grouped_stats(session, filters, column)
    return _flag_competitors(session, list(stats.values()), by)


def _check_group(by: str) -> None:
    if by not in ("location", "platform"):
        raise ValueError(f"breakdown by location or platform, not {by!r}")


def _flag_competitors(session: Session, stats: list[Stats], by: str) -> list[Stats]:
    if by == "platform":
        return stats
    competitors = set(session.scalars(competitor_keys()))
    return [replace(s, is_competitor=s.key in competitors) for s in stats]


def raw_aspect_trend(
    session: Session, filters: Filters = Filters(), granularity: Granularity = "week"
) -> list[AspectCount]:
    """How often each aspect is mentioned per period, how often in a negative review, and how
    often its sentences praised or criticised it."""
    period = period_expr(session, granularity)
    elements, polarity = aspect_elements(session)
    aspect = elements.c.value
    negative = func.sum(case((effective_label == "negative", 1), else_=0))
    query = (
        select(
            period,
            aspect,
            func.count(),
            negative,
            count_if(polarity == 1),
            count_if(polarity == -1),
        )  # fmt: skip
        .select_from(Review)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Triage, Triage.review_id == Review.id)
        .join(elements, true())
        .where(*conditions(filters))
        .group_by(period, aspect)
        .order_by(period, aspect)
    )
    return [
        AspectCount(date.fromisoformat(p), str(a), int(n), int(neg or 0), int(pr), int(cr))
        for p, a, n, neg, pr, cr in session.execute(query)
    ]


# --- public: rollups when they can answer, the raw tables otherwise ------------------------------


def summary(session: Session, filters: Filters = Filters()) -> Stats:
    """One line of figures for everything the filters select."""
    if not rollup_reads.answerable(session, filters):
        return raw_summary(session, filters)
    rows = rollup_reads.summed(session, filters, None)
    return _from_rollup(rows[0]) if rows else Stats("all", 0, 0, None, 0, 0, 0, 0, 0, 0)


def trend(
    session: Session, filters: Filters = Filters(), granularity: Granularity = "week"
) -> list[Stats]:
    """Stats per period (``key`` is the period's first day, 'YYYY-MM-DD'), oldest first."""
    if not rollup_reads.answerable(session, filters):
        return raw_trend(session, filters, granularity)
    period = rollup_reads.period_of(session, DailyRollup.day, granularity)
    return [_from_rollup(row) for row in rollup_reads.summed(session, filters, period)]


def breakdown(
    session: Session, filters: Filters = Filters(), by: GroupBy = "location"
) -> list[Stats]:
    """Stats per location (competitors flagged, for a side-by-side view) or per platform."""
    _check_group(by)
    if not rollup_reads.answerable(session, filters):
        return raw_breakdown(session, filters, by)
    column = DailyRollup.location_key if by == "location" else DailyRollup.platform
    rows = [_from_rollup(row) for row in rollup_reads.summed(session, filters, column)]
    # the raw side groups reviews without a location under None; keep that key
    rows = [replace(s, key=None) if s.key == "" and by == "location" else s for s in rows]
    return _flag_competitors(session, rows, by)


def aspect_trend(
    session: Session, filters: Filters = Filters(), granularity: Granularity = "week"
) -> list[AspectCount]:
    """How often each aspect is mentioned per period, in negative reviews, praised, criticised."""
    if not rollup_reads.answerable(session, filters):
        return raw_aspect_trend(session, filters, granularity)
    period = rollup_reads.period_of(session, AspectRollup.day, granularity)
    return [
        AspectCount(date.fromisoformat(str(p)), a, m, n, pr, cr)
        for p, a, m, n, pr, cr in rollup_reads.aspect_rows(session, filters, period)
    ]


def _from_rollup(row: dict[str, Any]) -> Stats:
    rated = row["rated"]
    return Stats(
        key=row["key"],
        reviews=row["reviews"],
        rated=rated,
        avg_rating=row["rating_sum"] / rated if rated else None,
        scored=row["scored"],
        negative=row["negative"],
        promoters=row["promoters"],
        passives=row["passives"],
        detractors=row["detractors"],
        responded=row["responded"],
        median_response_hours=rollup_reads.median_hours(rollup_reads.histogram(row)),
        neutral=row["neutral"],
        positive=row["positive"],
        mixed=row["mixed"],
        checked=row["checked"],
        sci_satisfied=row["sci_satisfied"],
        sci_return=row["sci_return"],
        sci_recommend=row["sci_recommend"],
        sci_secure=row["sci_secure"],
        replied_negative=row["replied_negative"],
        recovered=row["recovered"],
    )
