"""Ingestion under hostile input and concurrency, on SQLite and PostgreSQL.

One bad item is rejected with its reason and never holds back the others; text that is fine
apart from NUL bytes or lone surrogates is cleaned and kept; one review seen by two Google
collectors is stored once; a "[removed]" placeholder never replaces what the author wrote; and
two processes storing the same edit at once keep every distinct version exactly once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pipeline.db import make_engine, migrate, scratch_postgres, session_factory
from pipeline.ingest import IngestResult, ingest_items, stored_hashes, upsert_reviews
from pipeline.models import Review, ReviewAlias, ReviewRevision
from pipeline.normalize import normalize
from tests.test_ingest import T0, item

NOW = datetime.now(UTC)


def texts(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Review.external_id, Review.text)).all())


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"published_at": "9999-12-31T00:00:00Z"}, "published_at: 9999-12-31"),
        ({"published_at": 1e20}, "published_at: cannot parse date"),
        ({"published_at": (NOW + timedelta(days=30)).isoformat()}, "not a plausible review date"),
        ({"published_at": "1970-01-01T00:00:00Z"}, "not a plausible review date"),
        ({"reply_at": "+275760-09-13T00:00:00Z"}, "reply_at: cannot parse date"),
        ({"location_key": "x" * 80}, "location_key: must be text of at most 64"),
        ({"text": ["a", "list"]}, "text: expected text, got list"),
        ({"author": {"name": "Ann"}}, "author: expected text, got dict"),
        ({"rating": float("nan")}, "rating: nan is outside 1..5"),
        ({"rating": True}, "rating: not a number"),
        ({"url": "javascript:alert(1)"}, "url: not an http(s) link"),
        ({"platform": ["trustpilot"]}, "platform: unknown"),
        ({"raw": ["not", "an", "object"]}, "raw: expected an object"),
    ],
)
def test_every_bad_field_is_an_invalid_item_and_the_rest_is_stored(
    session: Session, bad: dict[str, object], reason: str
) -> None:
    result = ingest_items(session, [item(1), item(2, **bad), item(3)], now=T0)
    assert (result.received, result.new, result.errors) == (3, 2, 1)
    assert reason in result.error_messages[0]
    assert sorted(texts(session)) == ["tp-1", "tp-3"]


def test_a_non_text_language_is_detected_instead(session: Session) -> None:
    result = ingest_items(session, [item(1, language=7, text="Świetna obsługa i pyszna kawa.")])
    assert result.errors == 0
    assert session.scalars(select(Review.language)).one() == "pl"


def test_nul_bytes_and_lone_surrogates_are_cleaned_and_kept(session: Session) -> None:
    dirty = item(
        1,
        title="Bad\x00 title",
        text="Cold soup\x00 twice \ud83d and a rude waiter",
        author="Ann\x00",
        raw={"body": "x\x00y", "nested": ["\udfff"], "n": float("inf")},
    )
    result = ingest_items(session, [dirty, item(2)], now=T0)
    assert (result.new, result.errors) == (2, 0)
    review = session.scalars(select(Review).where(Review.external_id == "tp-1")).one()
    assert review.text == "Cold soup twice \ufffd and a rude waiter"
    assert (review.title, review.author) == ("Bad title", "Ann")
    assert review.raw == {"body": "xy", "nested": ["\ufffd"], "n": None}


def test_an_id_too_long_for_its_column_stays_unique(session: Session) -> None:
    long_a, long_b = "a" * 300 + "-1", "a" * 300 + "-2"
    ingest_items(session, [item(1, external_id=long_a), item(2, external_id=long_b)], now=T0)
    stored = sorted(texts(session))
    assert len(stored) == 2 and all(len(key) <= 255 for key in stored)
    again = ingest_items(session, [item(1, external_id=long_a)], now=T0)
    assert (again.new, again.unchanged) == (0, 1)


def test_a_value_the_database_refuses_rejects_only_that_item(
    session: Session, engine: Engine
) -> None:
    """Past validation (a CleanReview built by hand): PostgreSQL refuses a NUL in text."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores NUL bytes; the database-side refusal is PostgreSQL's")
    good = [normalize(item(n)) for n in (1, 2, 3)]
    poisoned = replace(good[1], text="nul\x00inside")
    result = upsert_reviews(session, [good[0], poisoned, good[2]], IngestResult(received=3))
    assert (result.new, result.errors) == (2, 1)
    assert "trustpilot/tp-2: database:" in result.error_messages[0]
    assert sorted(texts(session)) == ["tp-1", "tp-3"]


def google(external_id: str, collector: str, **changes: object) -> object:
    fields = {
        "platform": "google",
        "external_id": external_id,
        "url": f"https://maps.google.com/?cid=1&{collector}",
        "author": "Anna Kowalska",
        "text": "Waited forty minutes for a cold pizza.",
        "published_at": "2026-11-01T10:00:00Z",
        "raw": {"collector": collector},
    }
    return item(1, **{**fields, **changes})


def test_one_google_review_from_two_collectors_is_stored_once(session: Session) -> None:
    business = google("AbFvOqm01", "business")
    places = google("places/ChIJ/reviews/Ci9DQUlR", "places", published_at="2026-11-01T10:03Z")
    assert ingest_items(session, [business], now=T0).new == 1
    second = ingest_items(session, [places], now=T0 + timedelta(hours=1))
    assert (second.new, second.unchanged) == (0, 1)
    assert session.scalar(select(func.count()).select_from(Review)) == 1
    alias = session.scalars(select(ReviewAlias)).one()
    assert (alias.platform, alias.external_id) == ("google", "places/ChIJ/reviews/Ci9DQUlR")
    # the alias is known from now on: an edit seen through Places updates the same row
    edited = google("places/ChIJ/reviews/Ci9DQUlR", "places", text="Cold pizza, but they refunded")
    third = ingest_items(session, [edited], now=T0 + timedelta(hours=2))
    assert (third.new, third.updated) == (0, 1)
    review = session.scalars(select(Review)).one()
    assert (review.external_id, review.text) == ("AbFvOqm01", "Cold pizza, but they refunded")
    assert stored_hashes(session, "google", ["places/ChIJ/reviews/Ci9DQUlR"])


def test_same_words_far_apart_or_on_one_collector_platform_stay_two_reviews(
    session: Session,
) -> None:
    later = google("other-id", "places", published_at="2026-11-20T10:00:00Z")
    ingest_items(session, [google("AbFvOqm01", "business"), later], now=T0)
    trustpilot = [item(1, author="Ann", text="Great"), item(2, author="Ann", text="Great")]
    ingest_items(session, trustpilot, now=T0)
    assert session.scalar(select(func.count()).select_from(Review)) == 4


def test_a_removed_placeholder_never_overwrites_the_text(session: Session) -> None:
    ingest_items(session, [item(1, title="Awful", text="The courier threw the parcel.")], now=T0)
    removed = ingest_items(session, [item(1, title=None, text="", removed=True)], now=T0)
    assert (removed.updated, removed.unchanged) == (0, 1)
    review = session.scalars(select(Review)).one()
    assert (review.title, review.text, review.removed) == (
        "Awful",
        "The courier threw the parcel.",
        True,
    )
    assert session.scalar(select(func.count()).select_from(ReviewRevision)) == 0
    ingest_items(session, [item(2, text="", removed=True)], now=T0)  # never seen: kept empty
    assert texts(session)["tp-2"] == ""


def test_a_real_date_replaces_an_estimated_one(session: Session) -> None:
    estimated = item(1, published_at="2026-11-30T12:00:00Z", published_estimated=True)
    ingest_items(session, [estimated], now=T0)
    ingest_items(session, [item(1, published_at="2026-11-29T12:00:00Z", published_estimated=True)])
    review = session.scalars(select(Review)).one()
    assert (review.published_at.day, review.published_estimated) == (29, True)
    ingest_items(session, [item(1, published_at="2026-11-30T08:00:00Z")], now=T0)
    session.expire_all()
    review = session.scalars(select(Review)).one()
    assert review.published_at == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert review.published_estimated is False


@pytest.fixture
def committing_postgres(postgres_url: str):
    """A migrated PostgreSQL database whose transactions really commit (two writers)."""
    with scratch_postgres(postgres_url, "revmon_race") as url:
        engine = make_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()


def test_two_writers_storing_one_edit_keep_every_version_once(committing_postgres: Engine):
    sessions = session_factory(committing_postgres)
    with sessions.begin() as session:
        ingest_items(session, [item(1, text="version one")], now=T0)
    first_holds_lock = threading.Event()

    def first_writer() -> None:
        with sessions.begin() as session:
            ingest_items(session, [item(1, text="version two")], now=T0 + timedelta(hours=1))
            first_holds_lock.set()
            time.sleep(1.0)  # the second writer arrives while this transaction is open

    thread = threading.Thread(target=first_writer)
    thread.start()
    first_holds_lock.wait(10)
    with sessions.begin() as session:
        ingest_items(session, [item(1, text="version three")], now=T0 + timedelta(hours=2))
    thread.join()
    with sessions() as session:
        history = session.scalars(select(ReviewRevision.text).order_by(ReviewRevision.id)).all()
        assert history == ["version one", "version two"]
        assert texts(session) == {"tp-1": "version three"}
