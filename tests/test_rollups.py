"""Trends from the daily rollups equal Trends from the raw tables, after ingest, edits, scoring,
corrections and queue changes, on SQLite and PostgreSQL; an incremental refresh equals a full
rebuild; recovery is counted from the review's versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawlers.items import ReviewItem
from pipeline.ingest import ingest_items
from pipeline.insight_models import AspectRollup, DailyRollup, Recovery
from pipeline.models import Review, Sentiment, Triage
from pipeline.queries import Filters, aspect_trend, breakdown, summary, trend
from pipeline.queries.rollup_reads import answerable, median_hours
from pipeline.queries.trends import (
    raw_aspect_trend,
    raw_breakdown,
    raw_summary,
    raw_trend,
)
from pipeline.rollups import refresh_rollups
from pipeline.scoring import correct_label
from pipeline.triage import mark_responded, set_status
from tests.seed_dashboard import NOW, seed

DAY = datetime(2026, 3, 16, tzinfo=UTC)  # NOW's midnight
ROLLUP_ONLY = {"replied_negative", "recovered", "median_response_hours"}


def comparable(stats: Any) -> dict[str, Any]:
    values = {k: v for k, v in vars(stats).items() if k not in ROLLUP_ONLY}
    if values.get("avg_rating") is not None:
        values["avg_rating"] = round(values["avg_rating"], 9)
    return values


FILTERS = [
    Filters(),
    Filters(include_competitors=True),
    Filters(locations=("central",)),
    Filters(platforms=("google", "yelp")),
    Filters(since=DAY - timedelta(days=7), until=DAY + timedelta(days=1)),
    Filters(locations=("rival",), since=DAY - timedelta(days=30)),
]


def assert_same_as_raw(session: Session) -> None:
    for filters in FILTERS:
        assert answerable(session, filters)
        assert comparable(summary(session, filters)) == comparable(raw_summary(session, filters))
        for granularity in ("day", "week", "month"):
            rolled = [comparable(s) for s in trend(session, filters, granularity)]
            assert rolled == [comparable(s) for s in raw_trend(session, filters, granularity)]
            assert aspect_trend(session, filters, granularity) == raw_aspect_trend(
                session, filters, granularity
            )
        for by in ("location", "platform"):
            rolled = {s.key: comparable(s) for s in breakdown(session, filters, by)}
            assert rolled == {s.key: comparable(s) for s in raw_breakdown(session, filters, by)}
        assert_median_in_bucket(session, filters)


def response_hours(session: Session, filters: Filters) -> list[float]:
    from pipeline.queries.expressions import response_seconds
    from pipeline.queries.filters import conditions

    seconds = response_seconds(session)
    query = (
        select(seconds)
        .select_from(Review)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .outerjoin(Triage, Triage.review_id == Review.id)
        .where(*conditions(filters), seconds >= 0)
    )
    return sorted(float(v) / 3600 for v in session.scalars(query))


def assert_median_in_bucket(session: Session, filters: Filters) -> None:
    """The rollup's median is read from a histogram: it lies between the buckets of the two
    middle answers (one answer, when their number is odd)."""
    from pipeline.insight_models import RESPONSE_BUCKETS_H

    hours = response_hours(session, filters)
    rolled = summary(session, filters).median_response_hours
    if not hours:
        assert rolled is None and raw_summary(session, filters).median_response_hours is None
        return
    lower, upper = hours[(len(hours) - 1) // 2], hours[len(hours) // 2]
    bounds = [0.0, *RESPONSE_BUCKETS_H, float("inf")]
    low = max(b for b in bounds if b <= lower)
    high = min(b for b in bounds if b > upper)
    assert low <= rolled <= high
    assert lower <= raw_summary(session, filters).median_response_hours <= upper


def table(session: Session, model: Any) -> set[tuple[Any, ...]]:
    columns = [c.name for c in model.__table__.columns]
    return {tuple(getattr(row, c) for c in columns) for row in session.scalars(select(model)).all()}


def item(n: int, text: str, rating: float | None, at: datetime, **extra: Any) -> ReviewItem:
    return ReviewItem(
        platform=extra.pop("platform", "google"),
        external_id=f"r-{n}",
        url=f"https://example.com/{n}",
        text=text,
        published_at=at.isoformat(),
        rating=rating,
        language="en",
        location_key=extra.pop("location_key", "central"),
        **extra,
    )


def score(session: Session, label: str = "negative") -> None:
    """Score whatever has no sentiment yet, by hand (the model is not what is tested here)."""
    for review in session.scalars(select(Review).where(~Review.sentiment.has())):
        session.add(
            Sentiment(
                review_id=review.id,
                label=label,
                score=-0.5,
                probs={"negative": 0.9, "neutral": 0.05, "positive": 0.05},
                aspects=["staff", "price"],
                aspect_polarity={"staff": -1, "price": 1},
                sci_satisfied=-1,
                model_id="m",
                model_version="1",
                content_hash=review.content_hash,
            )
        )
    session.flush()


def test_rollups_equal_raw_tables_through_every_kind_of_change(session):
    ids = seed(session)
    refresh_rollups(session)
    assert_same_as_raw(session)

    ingest_items(session, [item(1, "Rude staff", 1, NOW - timedelta(days=4))])  # new review
    ingest_items(session, [item(2, "Nice", 5, NOW - timedelta(days=40), platform="yelp")])
    score(session)
    refresh_rollups(session)
    assert_same_as_raw(session)

    ingest_items(session, [item(1, "Rude staff, they fixed it", 4, NOW - timedelta(days=4))])
    refresh_rollups(session)  # an edit: the text changed, the score is now stale
    assert_same_as_raw(session)

    correct_label(session, ids["g3"], "negative", "lead")
    set_status(session, ids["g1"], "ignored", "lead")
    mark_responded(session, ids["x1"], NOW - timedelta(hours=5), "lead")
    session.flush()
    refresh_rollups(session)
    assert_same_as_raw(session)

    incremental = {m: table(session, m) for m in (DailyRollup, AspectRollup, Recovery)}
    refresh_rollups(session, full=True)
    assert {m: table(session, m) for m in incremental} == incremental


def test_unanswerable_filters_fall_back_to_the_raw_tables(session):
    seed(session)
    assert not answerable(session, Filters())  # never built
    refresh_rollups(session)
    for filters in (
        Filters(languages=("en",)),
        Filters(search="rude"),
        Filters(labels=("negative",)),
        Filters(since=NOW - timedelta(hours=30)),  # not a whole day
    ):
        assert not answerable(session, filters)
        assert comparable(summary(session, filters)) == comparable(raw_summary(session, filters))


def test_an_unchanged_database_refreshes_nothing(session):
    seed(session)
    refresh_rollups(session)
    later = datetime.now(UTC) + timedelta(hours=1)  # past the look-back
    assert refresh_rollups(session, now=later).runs > 0  # the seed's rows were new then
    result = refresh_rollups(session, now=later + timedelta(hours=1))
    assert (result.runs, result.cells) == (0, 0)


def test_median_of_a_histogram():
    counts = [0] * 24
    counts[3] = 2  # two answers in 1-2 h: at 1.25 and 1.75 h if spread evenly
    counts[5] = 2  # two in 3-4 h: 3.25 and 3.75 h
    assert median_hours(counts) == 2.5  # the mean of the middle two, as the raw median
    counts[5] = 3  # 3 1/6, 3.5, 3 5/6: the middle answer is the first of them
    assert median_hours(counts) == pytest.approx(3 + 1 / 6)
    assert median_hours([0] * 24) is None
    assert median_hours([0] * 23 + [5]) == 720.0  # the open bucket gives its lower bound


# --- recovery ----------------------------------------------------------------------------------

T1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_recovery_two_of_ten_replied_negatives_raised_their_rating(session):
    """Ten 1-star reviews get a reply; two are then edited to 4 stars: recovery 0.2."""
    published = T1 - timedelta(days=1)
    first = [item(n, f"Terrible visit number {n}", 1, published) for n in range(10)]
    ingest_items(session, first, now=T1)
    replied_at = T1 + timedelta(hours=20)
    answers = [
        item(n, f"Terrible visit number {n}", 1, published, reply_text="Sorry!",
             reply_at=replied_at.isoformat())
        for n in range(10)
    ]  # fmt: skip
    ingest_items(session, answers, now=T1 + timedelta(days=1))
    edited = [
        item(n, f"Terrible visit number {n}", 4, published, reply_text="Sorry!",
             reply_at=replied_at.isoformat())
        for n in range(2)
    ]  # fmt: skip
    ingest_items(session, edited, now=T1 + timedelta(days=3))
    ingest_items(session, [item(20, "Meh", 1, published)], now=T1)  # negative, never answered
    score(session)
    refresh_rollups(session)

    stats = summary(session, Filters())
    assert (stats.replied_negative, stats.recovered) == (10, 2)
    assert stats.recovery_rate == pytest.approx(0.2)
    hours = session.scalars(select(Recovery.hours)).all()
    assert hours == [pytest.approx(52.0)] * 2  # answered at +20 h, 4 stars seen at +72 h
    row = session.scalar(select(Recovery))
    assert row.answered_at == replied_at and row.location_key == "central"


def test_text_turning_non_negative_recovers_and_an_edit_before_the_answer_does_not(session):
    published = T1 - timedelta(days=1)
    ingest_items(session, [item(1, "Awful", None, published), item(2, "Awful", 1, published)],
                 now=T1)  # fmt: skip
    score(session)
    ingest_items(session, [item(2, "Bad but ok", 4, published)], now=T1 + timedelta(hours=1))
    answered = T1 + timedelta(hours=5)
    mark_responded(session, session.scalar(select(Review.id).where(Review.external_id == "r-2")),
                   answered, "lead")  # fmt: skip
    review = session.scalar(select(Review).where(Review.external_id == "r-1"))
    ingest_items(session, [item(1, "Awful at first, fine now", None, published,
                                reply_text="We fixed it", reply_at=answered.isoformat())],
                 now=T1 + timedelta(days=1))  # fmt: skip
    # the model now reads the text as positive: the scoring pass keeps the old label
    from pipeline.scoring import _remember_replaced_labels

    session.expire_all()
    review = session.scalar(select(Review).where(Review.external_id == "r-1"))
    _remember_replaced_labels(session, [review])
    review.sentiment.label, review.sentiment.content_hash = "positive", review.content_hash
    review.sentiment.probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.8}
    session.flush()
    refresh_rollups(session, full=True)
    recovered = dict(session.execute(select(Recovery.review_id, Recovery.hours)).all())
    assert recovered == {review.id: pytest.approx(19.0)}  # r-2 improved before its answer
    stats = summary(session, Filters())
    assert (stats.replied_negative, stats.recovered) == (2, 1)


def test_triage_marks_count_as_answers(session):
    seed(session)
    refresh_rollups(session)
    triaged = session.scalars(select(Triage).where(Triage.responded_at.is_not(None))).all()
    assert triaged  # y1 in the seed
    assert summary(session, Filters()).replied_negative >= 1


def test_a_session_can_ask_for_the_raw_tables(session):
    seed(session)
    refresh_rollups(session)
    assert answerable(session, Filters())
    session.info["trends_source"] = "raw"
    assert not answerable(session, Filters())
    assert summary(session, Filters()).replied_negative is None  # the raw side has no recovery
