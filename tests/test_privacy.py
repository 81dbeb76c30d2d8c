"""Erasure on request: an author's name leaves the rows and the raw source records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawlers.items import ReviewItem
from pipeline.ingest import ingest_items
from pipeline.models import Erasure as ErasureModel
from pipeline.models import Review, ReviewRevision, Sentiment
from pipeline.privacy import ERASED, erase_author

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
