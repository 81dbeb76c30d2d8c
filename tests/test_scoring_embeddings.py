"""Scoring stores each review's embedding compactly and reuses it: a new head, or a changed rating,
re-scores without the encoder; an edit keeps the replaced version's text label. On SQLite and
PostgreSQL, with a tiny model the test builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.items import ReviewItem
from pipeline import embeddings
from pipeline.ingest import ingest_items
from pipeline.insight_models import ReviewEmbedding
from pipeline.models import Review, ReviewRevision, Sentiment
from pipeline.scoring import score_pending
from tests.tiny_models import tiny_classifier

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-scoring")


@pytest.fixture(scope="module")
def classifier(model_dir):
    return tiny_classifier(model_dir)


def item(n: int, text: str, rating: float | None) -> ReviewItem:
    return ReviewItem(
        platform="trustpilot",
        external_id=f"e-{n}",
        url=f"https://example.com/{n}",
        text=text,
        published_at="2026-11-01T10:00:00Z",
        rating=rating,
        language="en",
    )


SAMPLE = [
    item(1, "the food was bad. the staff was slow", 2),
    item(2, "great price", 5),
    item(3, "", 4),
]


def stored(session: Session) -> dict[str, ReviewEmbedding]:
    rows = session.execute(
        select(Review.external_id, ReviewEmbedding).join(
            ReviewEmbedding, ReviewEmbedding.review_id == Review.id
        )
    ).all()
    return {ext: row for ext, row in rows}


def refuse_encoder(monkeypatch, classifier) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the encoder ran although the vectors were stored")

    monkeypatch.setattr(classifier.encoder, "embed", refuse)


def test_scoring_stores_float16_vectors_per_encoder_version(sessions, classifier):
    with sessions.begin() as session:
        ingest_items(session, SAMPLE, now=T0)
    assert score_pending(sessions, classifier).scored == 3
    with sessions() as session:
        rows = stored(session)
        assert set(rows) == {"e-1", "e-2"}  # the empty text has no vector
        first = rows["e-1"]
        assert first.encoder == classifier.encoder_version and first.dim == 32
        assert len(first.vectors) == 2 * 32 * (1 + len(first.sentences))  # float16
        vector = embeddings.unpack(first).text
        fresh = classifier.encoder.embed(["the food was bad. the staff was slow"])[0]
        assert float(vector @ fresh) > 0.999
        sentiment = session.scalar(
            select(Sentiment).join(Review).where(Review.external_id == "e-1")
        )
        assert set(sentiment.aspect_polarity) == set(sentiment.aspects)
        assert sentiment.label == "negative"  # 2 stars
        # a negative review is no satisfied customer; one whose text disagrees is unknown
        assert sentiment.sci_satisfied == (0 if sentiment.mixed else -1)


def test_a_new_head_rescores_from_stored_vectors(sessions, classifier, model_dir, monkeypatch):
    with sessions.begin() as session:
        ingest_items(session, SAMPLE, now=T0)
    score_pending(sessions, classifier)
    other = tiny_classifier(model_dir, c=0.05)
    assert other.version != classifier.version
    assert other.encoder_version == classifier.encoder_version
    refuse_encoder(monkeypatch, other)
    assert score_pending(sessions, other).scored == 3
    with sessions() as session:
        versions = set(session.scalars(select(Sentiment.model_version)))
    assert versions == {other.version}


def test_rating_change_reuses_vectors_and_a_text_edit_keeps_the_old_label(
    sessions, classifier, monkeypatch
):
    with sessions.begin() as session:
        ingest_items(session, SAMPLE, now=T0)
    score_pending(sessions, classifier)
    with sessions() as session:
        before = session.scalar(select(Sentiment).join(Review).where(Review.external_id == "e-2"))
        old_label = max(before.probs, key=before.probs.get)

    with sessions.begin() as session:  # same text, new rating: vectors still valid
        ingest_items(session, [item(2, "great price", 1)], now=T0 + timedelta(days=1))
    with monkeypatch.context() as patch:
        refuse_encoder(patch, classifier)
        assert score_pending(sessions, classifier).scored == 1

    with sessions.begin() as session:  # new text: vectors recomputed, the old reading kept
        ingest_items(session, [item(2, "bad awful", 1)], now=T0 + timedelta(days=2))
    assert score_pending(sessions, classifier).scored == 1
    with sessions() as session:
        review = session.scalar(select(Review).where(Review.external_id == "e-2"))
        revisions = session.scalars(
            select(ReviewRevision)
            .where(ReviewRevision.review_id == review.id)
            .order_by(ReviewRevision.id)
        ).all()
        assert [r.text for r in revisions] == ["great price", "great price"]
        assert revisions[-1].text_label == old_label
        row = stored(session)["e-2"]
        assert row.text_hash == embeddings.text_hash("bad awful")
        assert not np.allclose(
            embeddings.unpack(row).text, classifier.encoder.embed(["great price"])[0], atol=1e-2
        )


def test_pack_refuses_a_mismatched_index():
    blob, order, dim = embeddings.pack(np.ones(4), {0: np.zeros(4), 2: np.ones(4)})
    assert order == [0, 2] and dim == 4 and len(blob) == 3 * 4 * 2
    row = ReviewEmbedding(review_id=1, vectors=blob, sentences=[0], dim=4, text_hash="x")
    with pytest.raises(ValueError, match="do not match"):
        embeddings.unpack(row)


def test_text_matrix_reads_unit_rows_in_order(sessions: sessionmaker[Session], classifier):
    with sessions.begin() as session:
        ingest_items(session, SAMPLE, now=T0)
    score_pending(sessions, classifier)
    with sessions() as session:
        ids = list(
            session.scalars(select(Review.id).where(Review.text != "").order_by(Review.id.desc()))
        )
        order, matrix = embeddings.text_matrix(session, [*ids, 10**9])
    assert order == ids and matrix.shape == (2, 32)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)
