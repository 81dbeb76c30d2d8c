"""Keep the daily rollups current: recompute only the (day, location, platform) cells touched
since the last refresh, so that Trends reads a few thousand summed rows instead of the reviews.

What marks a cell touched: a review first seen or edited (``reviews.first_seen``,
``changed_at``, or an id above the last refresh's), scored or corrected
(``sentiment.scored_at``, ``corrected_at``) or moved in the queue (``triage.updated_at``),
since the watermark in ``rollup_state`` minus ``LOOKBACK`` (a transaction that started before
the last refresh may commit after it; recomputing a cell twice is harmless). Each touched
location/platform pair is recomputed over runs of touched days from the raw tables, in SQL.

Call :func:`refresh_rollups` after ingest, scoring and triage passes (``revmon score``, ``revmon
alerts``, the demo and ``refresh_insights`` do) and before reading (the dashboard does, at most
once a minute). ``full=True`` rebuilds everything (after ``revmon erase --delete``, say).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.insight_models import (
    RESPONSE_BUCKETS_H,
    RESPONSE_COLUMNS,
    AspectRollup,
    DailyRollup,
    Recovery,
    RollupState,
)
from pipeline.models import Review, ReviewRevision, Sentiment, Triage, utcnow
from pipeline.queries.expressions import (
    ROLLUP_STATE,
    aspect_elements,
    day_expr,
    location_expr,
    response_seconds,
)
from pipeline.queries.filters import count_if, dialect
from pipeline.recovery import Version, recovery_of

STATE = ROLLUP_STATE
LOOKBACK = timedelta(minutes=15)
MERGE_GAP_DAYS = 7  # touched days closer than this are recomputed as one run
LOCK_KEY = 0x7265766D6F6E  # "revmon": serialises refreshes on PostgreSQL

label = func.coalesce(Sentiment.corrected_label, Sentiment.label)


@dataclass
class RefreshResult:
    """What one refresh did, for logs and the CLI."""

    full: bool
    cells: int = 0
    runs: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        kind = "rebuilt" if self.full else "refreshed"
        return f"rollups {kind}: {self.runs} runs, {self.cells} days in {self.seconds:.2f} s"


@dataclass(frozen=True)
class Run:
    """Consecutive days of one location/platform pair to recompute."""

    location_key: str
    platform: str
    first: date
    last: date


# --- entry point ------------------------------------------------------------------------------


def refresh_rollups(
    session: Session,
    *,
    since: datetime | None = None,
    full: bool = False,
    now: datetime | None = None,
) -> RefreshResult:
    """Bring the rollups up to date in the caller's transaction; see the module docstring.
    ``since`` overrides the watermark (recompute what changed after it)."""
    started = time.perf_counter()
    now = now or utcnow()
    _lock(session)
    state = session.get(RollupState, STATE)
    max_id = session.scalar(select(func.max(Review.id))) or 0
    if full or state is None:
        result = RefreshResult(full=True)
        _rebuild_all(session)
    else:
        mark = since or (state.refreshed_at - LOOKBACK)
        runs = list(_runs(_touched_days(session, mark, state.max_review_id)))
        result = RefreshResult(full=False, runs=len(runs))
        for run in runs:
            result.cells += (run.last - run.first).days + 1
            _recompute(session, run)
    if state is None:
        state = RollupState(name=STATE, refreshed_at=now, max_review_id=max_id)
        session.add(state)
    state.refreshed_at, state.max_review_id = now, max_id
    session.flush()
    result.seconds = time.perf_counter() - started
    return result


def _lock(session: Session) -> None:
    if dialect(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


# --- what changed -----------------------------------------------------------------------------


def _touched_days(session: Session, mark: datetime, max_id: int) -> set[tuple[str, str, date]]:
    """(location, platform, day) of every review touched since ``mark``; one indexed query per
    timestamp, so that none of them scans the reviews."""
    day = day_expr(session)
    key = (location_expr(), Review.platform, day)
    queries = [
        select(*key).where(Review.id > max_id),
        select(*key).where(Review.first_seen >= mark),
        select(*key).where(Review.changed_at >= mark),
        select(*key)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .where(Sentiment.scored_at >= mark),
        select(*key)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .where(Sentiment.corrected_at >= mark),
        select(*key).join(Triage, Triage.review_id == Review.id).where(Triage.updated_at >= mark),
    ]
    touched: set[tuple[str, str, date]] = set()
    for query in queries:
        for loc, platform, value in session.execute(query.distinct()):
            touched.add((loc, platform, _as_date(value)))
    return touched


def _runs(touched: Iterable[tuple[str, str, date]]) -> Iterable[Run]:
    """Group touched days per pair into runs, merging gaps shorter than MERGE_GAP_DAYS."""
    per_pair: dict[tuple[str, str], list[date]] = defaultdict(list)
    for loc, platform, day in touched:
        per_pair[(loc, platform)].append(day)
    for (loc, platform), days in sorted(per_pair.items()):
        days.sort()
        first = last = days[0]
        for day in days[1:]:
            if (day - last).days > MERGE_GAP_DAYS:
                yield Run(loc, platform, first, last)
                first = day
            last = day
        yield Run(loc, platform, first, last)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- recomputing ------------------------------------------------------------------------------


def _rebuild_all(session: Session) -> None:
    for table in (DailyRollup, AspectRollup, Recovery):
        session.execute(delete(table))
    session.execute(_insert_daily(session, None))
    session.execute(_insert_aspects(session, None))
    _apply_recoveries(session, None)


def _recompute(session: Session, run: Run) -> None:
    for table in (DailyRollup, AspectRollup, Recovery):
        session.execute(
            delete(table).where(
                table.location_key == run.location_key,
                table.platform == run.platform,
                table.day.between(run.first, run.last),
            )
        )
    session.execute(_insert_daily(session, run))
    session.execute(_insert_aspects(session, run))
    _apply_recoveries(session, run)


def _in_run(run: Run | None) -> list[ColumnElement[bool]]:
    if run is None:
        return []
    start = datetime(run.first.year, run.first.month, run.first.day, tzinfo=UTC)
    end = datetime(run.last.year, run.last.month, run.last.day, tzinfo=UTC) + timedelta(days=1)
    location = (
        Review.location_key.is_(None)
        if run.location_key == ""
        else Review.location_key == run.location_key
    )
    return [location, Review.platform == run.platform, Review.published_at >= start,
            Review.published_at < end]  # fmt: skip


def _daily_columns(session: Session) -> dict[str, ColumnElement[Any]]:
    rating = Review.rating
    # whole seconds: SQLite's julianday arithmetic puts "2 hours" at 7199.99999 s, which
    # would land a round answer time in the bucket below
    seconds = func.round(response_seconds(session))
    replied = or_(Review.reply_at.is_not(None), Triage.responded_at.is_not(None))
    negative = or_(rating <= 2.5, label == "negative")
    edited = exists().where(ReviewRevision.review_id == Review.id)
    uncorrected = Sentiment.corrected_label.is_(None)
    sci = (Sentiment.sci_satisfied, Sentiment.sci_return, Sentiment.sci_recommend)
    columns: dict[str, ColumnElement[Any]] = {
        "reviews": func.count(),
        "rated": func.count(rating),
        "rating_sum": func.coalesce(func.sum(rating), 0.0),
        "stars_1": count_if(rating < 1.5),
        "stars_2": count_if(and_(rating >= 1.5, rating < 2.5)),
        "stars_3": count_if(and_(rating >= 2.5, rating < 3.5)),
        "stars_4": count_if(and_(rating >= 3.5, rating < 4.5)),
        "stars_5": count_if(rating >= 4.5),
        "scored": func.count(Sentiment.review_id),
        "negative": count_if(label == "negative"),
        "neutral": count_if(label == "neutral"),
        "positive": count_if(label == "positive"),
        "mixed": count_if(and_(Sentiment.mixed.is_(True), uncorrected)),
        "checked": count_if(and_(Sentiment.needs_check.is_(True), uncorrected)),
        "promoters": count_if(rating >= 4.5),
        "passives": count_if(and_(rating >= 3.5, rating < 4.5)),
        "detractors": count_if(rating < 3.5),
        "sci_satisfied": count_if(sci[0] == 1),
        "sci_return": count_if(sci[1] == 1),
        "sci_recommend": count_if(sci[2] == 1),
        "sci_secure": count_if(and_(sci[0] == 1, sci[1] == 1, sci[2] == 1)),
        "responded": count_if(replied),
        "response_n": count_if(seconds >= 0),
        "response_seconds": func.coalesce(func.sum(case((seconds >= 0, seconds))), 0.0),
        # reviews never edited: a replied negative that cannot have recovered; edited ones are
        # added by _apply_recoveries, which reads their versions
        "replied_negative": count_if(and_(replied, negative, ~edited)),
        "recovered": literal(0),
    }
    bounds = [0.0, *(h * 3600.0 for h in RESPONSE_BUCKETS_H)]
    for i, name in enumerate(RESPONSE_COLUMNS):
        low = seconds >= bounds[i]
        high = seconds < bounds[i + 1] if i + 1 < len(bounds) else true()
        columns[name] = count_if(and_(low, high))
    return columns


def _joined(query: Any) -> Any:
    return query.select_from(Review).outerjoin(Sentiment, Sentiment.review_id == Review.id)


def _insert_daily(session: Session, run: Run | None) -> Any:
    day, location = day_expr(session), location_expr()  # one object each: PostgreSQL
    columns = _daily_columns(session)  # matches GROUP BY expressions by their parameters
    query = (
        _joined(select(day, location, Review.platform, *columns.values()))
        .outerjoin(Triage, Triage.review_id == Review.id)
        .where(*_in_run(run))
        .group_by(day, location, Review.platform)
    )
    names = ["day", "location_key", "platform", *columns]
    return insert(DailyRollup).from_select(names, query)


def _insert_aspects(session: Session, run: Run | None) -> Any:
    day, location = day_expr(session), location_expr()
    elements, polarity = aspect_elements(session)
    aspect = elements.c.value
    query = (
        select(
            day,
            location,
            Review.platform,
            aspect,
            func.count(),
            count_if(label == "negative"),
            count_if(polarity == 1),
            count_if(polarity == -1),
        )
        .select_from(Review)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .join(elements, true())
        .where(*_in_run(run))
        .group_by(day, location, Review.platform, aspect)
    )
    names = ["day", "location_key", "platform", "aspect", "mentions", "negative", "praised",
             "criticised"]  # fmt: skip
    return insert(AspectRollup).from_select(names, query)


def _apply_recoveries(session: Session, run: Run | None) -> None:
    """Edited reviews that got an answer: read their versions, record recoveries, and add them
    to the rollup's replied_negative and recovered counts."""
    answered = func.coalesce(Review.reply_at, Triage.responded_at)
    query = (
        _joined(select(Review, Sentiment, Triage.responded_at))
        .outerjoin(Triage, Triage.review_id == Review.id)
        .where(answered.is_not(None), exists().where(ReviewRevision.review_id == Review.id))
        .where(*_in_run(run))
    )
    rows = session.execute(query).all()
    if not rows:
        return
    history = _versions(session, [review.id for review, _, _ in rows])
    counts: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for review, sentiment, responded_at in rows:
        current = Version(review.rating, _current_text_label(review, sentiment), None)
        seen = review.changed_at or review.first_seen
        versions = [*history.get(review.id, []), current._replace(seen_from=seen)]
        outcome = recovery_of(versions, _earliest(review.reply_at, responded_at))
        if outcome is None:
            continue
        key = (review.published_at.astimezone(UTC).date(), review.location_key or "",
               review.platform)  # fmt: skip
        counts[key][0] += 1
        if outcome.recovered_at is not None:
            counts[key][1] += 1
            session.add(
                Recovery(
                    review_id=review.id,
                    day=key[0],
                    location_key=key[1],
                    platform=key[2],
                    answered_at=outcome.answered_at,
                    recovered_at=outcome.recovered_at,
                    hours=outcome.hours,
                )
            )
    for (day, loc, platform), (replied, recovered) in counts.items():
        session.execute(
            update(DailyRollup)
            .where(
                DailyRollup.day == day,
                DailyRollup.location_key == loc,
                DailyRollup.platform == platform,
            )
            .values(
                replied_negative=DailyRollup.replied_negative + replied,
                recovered=DailyRollup.recovered + recovered,
            )
        )
    session.flush()


def _versions(session: Session, review_ids: list[int]) -> dict[int, list[Version]]:
    out: dict[int, list[Version]] = defaultdict(list)
    for start in range(0, len(review_ids), 5000):
        chunk = review_ids[start : start + 5000]
        query = (
            select(ReviewRevision)
            .where(ReviewRevision.review_id.in_(chunk))
            .order_by(ReviewRevision.review_id, ReviewRevision.id)
        )
        for rev in session.scalars(query):
            out[rev.review_id].append(Version(rev.rating, rev.text_label, rev.seen_from))
    return out


def _current_text_label(review: Review, sentiment: Sentiment | None) -> str | None:
    if sentiment is None or sentiment.content_hash != review.content_hash:
        return None
    if sentiment.corrected_label:
        return sentiment.corrected_label
    probs = sentiment.probs or {}
    if not probs:
        return sentiment.label
    return max(("negative", "neutral", "positive"), key=lambda k: float(probs.get(k, 0.0)))


def _earliest(*stamps: datetime | None) -> datetime | None:
    known = [s for s in stamps if s is not None]
    return min(known) if known else None
