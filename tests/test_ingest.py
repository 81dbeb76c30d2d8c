"""Ingestion on both databases: idempotent upsert, edits kept as revisions, bad items counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.items import ReviewItem
from pipeline.ingest import ingest_items, stored_hashes
from pipeline.models import Review, ReviewRevision

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def item(n: int, **changes: object) -> ReviewItem:
    base = ReviewItem(
        platform="trustpilot",
        external_id=f"tp-{n}",
        url=f"https://www.trustpilot.com/reviews/tp-{n}",
        text=f"Review number {n}: the delivery was late and support never answered.",
        published_at="2026-11-01T10:00:00+02:00",
        author=f"Author {n}",
        rating=2,
        language="en",
        location_key="main",
        raw={"id": f"tp-{n}"},
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_upsert_is_idempotent(session: Session) -> None:
    first = ingest_items(session, [item(1), item(2), item(3)], now=T0)
    again = ingest_items(session, [item(1), item(2), item(3)], now=T0 + timedelta(hours=1))
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert count(session, Review) == 3
    assert count(session, ReviewRevision) == 0
    review = session.scalars(select(Review).where(Review.external_id == "tp-1")).one()
    assert review.first_seen == T0
    assert review.last_seen == T0 + timedelta(hours=1)
    assert review.changed_at is None


def test_stored_values_are_normalised(session: Session) -> None:
    ingest_items(
        session,
        [item(1, text="  price <  10 zł,\tquality > expected\r\n\r\nFood <3 &amp; ", rating="2,0")],
        now=T0,
    )
    review = session.scalars(select(Review)).one()
    # plain text keeps every character the writer typed; only whitespace is folded
    assert review.text == "price < 10 zł, quality > expected\nFood <3 &amp;"
    assert review.rating == 2.0
    assert review.published_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert review.raw == {"id": "tp-1"}
    assert review.location_key == "main"


def test_duplicates_inside_one_batch_keep_the_last(session: Session) -> None:
    result = ingest_items(session, [item(1), item(1, text="second copy wins")], now=T0)
    assert result.received == 2 and result.new == 1
    assert session.scalars(select(Review.text)).one() == "second copy wins"


def test_edit_updates_and_keeps_a_revision(session: Session) -> None:
    ingest_items(session, [item(1)], now=T0)
    edited = item(
        1, text="Update: they called me back and fixed it.", rating=4, reply_text="Thank you!"
    )
    result = ingest_items(session, [edited], now=T0 + timedelta(days=1))
    assert (result.new, result.updated) == (0, 1)
    review = session.scalars(select(Review)).one()
    assert review.text == "Update: they called me back and fixed it."
    assert review.rating == 4 and review.reply_text == "Thank you!"
    assert review.changed_at == T0 + timedelta(days=1)
    [revision] = session.scalars(select(ReviewRevision)).all()
    assert revision.review_id == review.id
    assert revision.rating == 2 and revision.reply_text is None
    assert revision.text.startswith("Review number 1")
    assert revision.seen_from == T0
    assert revision.replaced_at == T0 + timedelta(days=1)


def test_reply_alone_is_an_edit(session: Session) -> None:
    ingest_items(session, [item(1)], now=T0)
    result = ingest_items(session, [item(1, reply_text="Sorry, we will call you.")], now=T0)
    assert result.updated == 1
    assert count(session, ReviewRevision) == 1


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"external_id": ""}, "external_id: missing"),
        ({"rating": 7}, "rating: 7.0 is outside 1..5"),
        ({"rating": "five"}, "rating: not a number"),
        ({"published_at": "not a date at all"}, "published_at: cannot parse date"),
        ({"platform": "myspace"}, "platform: unknown"),
        ({"url": ""}, "url: missing"),
    ],
)
def test_bad_item_is_counted_and_the_batch_goes_on(
    session: Session, bad: dict[str, object], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = ingest_items(session, [item(1), item(2, **bad), item(3)], now=T0)
    assert (result.received, result.new, result.errors) == (3, 2, 1)
    assert reason in result.error_messages[0]
    assert reason in caplog.text
    assert sorted(session.scalars(select(Review.external_id))) == ["tp-1", "tp-3"]


def test_bad_edit_leaves_stored_review_intact(session: Session) -> None:
    ingest_items(session, [item(1)], now=T0)
    result = ingest_items(session, [item(1, rating=0)], now=T0)
    assert result.errors == 1
    assert session.scalars(select(Review.rating)).one() == 2


def test_dates_in_words_and_missing_timezone(session: Session) -> None:
    ingest_items(
        session,
        [item(1, published_at="5 марта 2026"), item(2, published_at="2026-03-05T10:00:00")],
        now=T0,
    )
    dates = dict(session.execute(select(Review.external_id, Review.published_at)).all())
    assert dates["tp-1"].date().isoformat() == "2026-03-05"
    assert dates["tp-2"] == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def test_language_detected_when_source_gives_none(session: Session) -> None:
    ingest_items(
        session,
        [item(1, language=None, text="Очень долго ждали заказ, официант грубил.")],
        now=T0,
    )
    assert session.scalars(select(Review.language)).one() == "ru"


def test_large_batch_spans_chunks(session: Session) -> None:
    result = ingest_items(session, [item(n) for n in range(2500)], now=T0)
    assert result.new == 2500
    assert count(session, Review) == 2500


def test_stored_hashes_for_incremental_crawls(session: Session) -> None:
    ingest_items(session, [item(1), item(2)], now=T0)
    hashes = stored_hashes(session, "trustpilot", ["tp-1", "tp-2", "tp-9"])
    assert set(hashes) == {"tp-1", "tp-2"}
    assert all(len(value) == 64 for value in hashes.values())


def test_published_at_keeps_the_earliest_date_seen(session: Session) -> None:
    ingest_items(session, [item(1, published_at="2026-11-01T10:00:00Z")], now=T0)
    ingest_items(session, [item(1, published_at="2026-11-20T10:00:00Z")], now=T0)
    assert session.scalars(select(Review.published_at)).one() == datetime(
        2026, 11, 1, 10, tzinfo=UTC
    )
    ingest_items(session, [item(1, published_at="2026-10-30T08:00:00Z")], now=T0)
    assert session.scalars(select(Review.published_at)).one() == datetime(
        2026, 10, 30, 8, tzinfo=UTC
    )
