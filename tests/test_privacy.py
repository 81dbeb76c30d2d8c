"""Erasure on request: an author's name leaves the rows and the raw source records."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Session

from crawlers.items import ReviewItem
from pipeline.alerts import review_payload
from pipeline.ingest import ingest_items
from pipeline.models import Alert, CrawlRun, Review, ReviewRevision, Sentiment
from pipeline.models import Erasure as ErasureModel
from pipeline.privacy import ERASED, erase_author
from pipeline.triage import add_note

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def review(
    n: int, author: str, platform: str = "trustpilot", text: str = "Slow service"
) -> ReviewItem:
    return ReviewItem(
        platform=platform,
        external_id=f"p-{n}",
        url=f"https://example.com/{n}",
        text=f"{text} #{n}",
        published_at="2026-11-01T10:00:00Z",
        author=author,
        rating=2,
        language="en",
        raw={"consumer": {"displayName": author, "id": "c1"}, "notes": [f"by {author}"]},
    )


@pytest.fixture
def stored(session: Session) -> Session:
    ingest_items(
        session,
        [review(1, "Anna Kowalska"), review(2, "Anna Kowalska", "twogis"), review(3, "Tom Becker")],
        now=T0,
    )
    return session


def test_erase_name_everywhere(stored: Session) -> None:
    done = erase_author(stored, "Anna Kowalska")
    assert done.reviews == 2 and done.deleted == 0
    rows = {r.external_id: r for r in stored.scalars(select(Review))}
    for key in ("p-1", "p-2"):
        assert rows[key].author is None
        assert rows[key].raw == {
            "consumer": {"displayName": ERASED, "id": "c1"},
            "notes": [f"by {ERASED}"],
        }
        assert rows[key].text.startswith("Slow service")  # the review itself stays
    assert rows["p-3"].author == "Tom Becker"
    assert rows["p-3"].raw["consumer"]["displayName"] == "Tom Becker"


def test_erase_on_one_platform_and_delete(stored: Session) -> None:
    review_id = stored.scalar(select(Review.id).where(Review.external_id == "p-1"))
    stored.add(Sentiment(review_id=review_id, label="negative", score=-0.8, model_id="m",
                         model_version="1", content_hash="x"))  # fmt: skip
    ingest_items(stored, [review(1, "Anna Kowalska", text="Edited")], now=T0)  # a revision
    stored.flush()
    done = erase_author(stored, "Anna Kowalska", platform="trustpilot", delete_reviews=True)
    assert done.deleted == 1
    remaining = set(stored.scalars(select(Review.external_id)))
    assert remaining == {"p-2", "p-3"}
    assert stored.scalar(select(func.count()).select_from(ReviewRevision)) == 0
    assert stored.scalar(select(func.count()).select_from(Sentiment)) == 0


def test_blank_name_is_refused(stored: Session) -> None:
    with pytest.raises(ValueError, match="exact author name"):
        erase_author(stored, "  ")


def test_erased_name_does_not_come_back_on_the_next_crawl(stored: Session) -> None:
    erase_author(stored, "Anna Kowalska", platform="trustpilot")
    erase_author(stored, "Anna Kowalska", platform="trustpilot")  # asked twice: one wish
    ingest_items(
        stored,
        [
            review(1, "Anna Kowalska"),
            review(2, "Anna Kowalska", "twogis"),
            review(4, "Anna Kowalska"),
        ],
        now=T0,
    )
    rows = {r.external_id: r for r in stored.scalars(select(Review))}
    assert rows["p-1"].author is None and rows["p-4"].author is None
    assert rows["p-4"].raw["consumer"]["displayName"] == ERASED
    assert rows["p-2"].author == "Anna Kowalska"  # the wish was for Trustpilot only
    assert stored.scalar(select(func.count()).select_from(ErasureModel)) == 1
    assert "Anna" not in str(stored.scalars(select(ErasureModel.author_hash)).all())


# --- the name everywhere it was copied to ------------------------------------------------------

NAME = "Łucja Wróbel"  # non-ASCII: JSON columns store it escaped


def everywhere(session: Session) -> dict[str, list[str]]:
    """Every text and JSON cell of every table in the database (reflected, not from the models)
    that still holds ``NAME``, as 'table.column'."""
    metadata = MetaData()
    metadata.reflect(bind=session.connection())
    found: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        for row in session.execute(select(table)).mappings():
            for column, value in row.items():
                shown = json.dumps(value, ensure_ascii=False, default=str)
                if NAME in shown or json.dumps(NAME)[1:-1] in shown:
                    found.setdefault(table.name, []).append(str(column))
    return found


@pytest.fixture
def copies(session: Session) -> dict[str, int]:
    """The name as revmon copies it around: raw records, a signature in the text, an earlier
    version, another person's review and its reply, a note, alert payloads, a crawl error."""
    mine = review(1, NAME, text=f"Cold soup — {NAME}")
    mine.raw = {"consumer": {"displayName": NAME}, NAME: ["key too"]}
    other = review(2, "Tom Becker", text=f"The waitress {NAME} was lovely")
    other.reply_text = f"Thank you! We told {NAME}."
    elsewhere = review(3, NAME, "twogis")
    ingest_items(session, [mine, other, elsewhere], now=T0)
    edited = review(1, NAME, text=f"Cold soup, edited — {NAME}")
    edited.raw = mine.raw
    ingest_items(session, [edited], now=T0)  # the first version becomes a revision
    ids = {r.external_id: r.id for r in session.scalars(select(Review))}
    add_note(session, ids["p-1"], f"{NAME} called, offered a voucher", "lead")
    for key in ("p-1", "p-3"):
        row = session.get(Review, ids[key])
        session.add(Alert(rule="neg", review_id=row.id, channel="mail", key=f"review:{row.id}",
                          payload=review_payload(row, None, None, {})))  # fmt: skip
    digest = {"kind": "digest", "top": [{"author": NAME, "text": "x"}]}
    session.add(Alert(rule="daily", channel="mail", key="digest:2026-11-02", payload=digest))
    session.add(CrawlRun(source="trustpilot", platform="trustpilot",
                         error_log=[f"record 3: no date in the review by {NAME}"]))  # fmt: skip
    session.flush()
    assert set(everywhere(session)) >= {"reviews", "review_revisions", "triage", "alerts"}
    return ids


def test_erase_leaves_the_name_nowhere_in_the_database(session: Session, copies) -> None:
    done = erase_author(session, NAME)
    assert (done.reviews, done.deleted) == (2, 0) and done.elsewhere > 0
    assert everywhere(session) == {}
    rows = {r.external_id: r for r in session.scalars(select(Review))}
    assert rows["p-1"].text == f"Cold soup, edited — {ERASED} #1"
    assert rows["p-2"].author == "Tom Becker"  # the other person's review stays, minus the name
    assert rows["p-2"].text == f"The waitress {ERASED} was lovely #2"


def test_delete_also_leaves_the_name_nowhere(session: Session, copies) -> None:
    done = erase_author(session, NAME, delete_reviews=True)
    assert done.deleted == 2
    assert set(session.scalars(select(Review.external_id))) == {"p-2"}
    assert everywhere(session) == {}


def test_erase_on_one_platform_touches_only_what_is_about_those_reviews(
    session: Session, copies
) -> None:
    erase_author(session, NAME, platform="trustpilot")
    left = everywhere(session)
    assert set(left) == {"reviews", "alerts", "crawl_runs"}  # twogis, the digest, the run log
    trustpilot = session.get(Review, copies["p-1"])
    assert trustpilot.author is None and NAME not in json.dumps(trustpilot.raw)
    alert = session.scalar(select(Alert).where(Alert.review_id == copies["p-1"]))
    assert NAME not in json.dumps(alert.payload, ensure_ascii=False)


def test_a_recrawl_of_an_erased_review_brings_nothing_back(session: Session, copies) -> None:
    erase_author(session, NAME)
    edited = review(1, NAME, text=f"Cold soup, edited — {NAME}")
    edited.raw = {"consumer": {"displayName": NAME}, NAME: ["key too"]}
    result = ingest_items(session, [edited, review(3, NAME, "twogis")], now=T0)
    assert result.unchanged == 2  # the platform's versions did not change
    assert everywhere(session) == {}
