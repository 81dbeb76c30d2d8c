"""Scoring runs (``revmon score``): classify reviews whose sentiment is missing or outdated.

A review needs scoring when it has no sentiment row, when its content changed since it was
scored (content hash), or when the model id or version changed. Work is committed chunk by chunk,
so an interrupted run resumes where it stopped. Several processes may score at once (several
``revmon run`` on one PostgreSQL): each chunk's reviews are taken ``FOR UPDATE SKIP LOCKED`` and
checked to be still pending inside the transaction that stores their scores, so a review is
scored by one process only. A person's corrected label is kept across
re-scoring: it is what the dashboard shows and what retraining learns from.

Embeddings are stored as they are computed (``pipeline.embeddings``) and reused while the text
and the encoder stay the same: a new head, or a changed rating or reply, re-scores from them
without running the encoder. When an edit replaces a scored version, that version's text label
is kept on its revision, so recovery can tell whether the text turned non-negative.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from pipeline import embeddings
from pipeline.db import read_only
from pipeline.models import Review, ReviewRevision, Sentiment, utcnow

if TYPE_CHECKING:
    from sentiment import Analysis, SentimentClassifier, Vectors

LABELS = ("negative", "neutral", "positive")
CHUNK = 512


@dataclass
class ScoreResult:
    scored: int = 0
    negative: int = 0
    mixed: int = 0

    def add(self, analysis: Analysis) -> None:
        self.scored += 1
        self.negative += analysis.label == "negative"
        self.mixed += bool(analysis.mixed)


def pending_query(model_id: str, version: str) -> Select[Any]:
    """Reviews without a current score for this model version and this content."""
    return (
        select(Review.id)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .where(
            or_(
                Sentiment.review_id.is_(None),
                Sentiment.model_id != model_id,
                Sentiment.model_version != version,
                Sentiment.content_hash != Review.content_hash,
            )
        )
    )


def count_pending(session: Session, classifier: SentimentClassifier) -> int:
    query = pending_query(classifier.model_id, classifier.version).subquery()
    return session.scalar(select(func.count()).select_from(query)) or 0


def scoring_text(title: str | None, text: str) -> str:
    """What the model reads: the title carries meaning ("Never again") that the body may not."""
    return ". ".join(part for part in (title, text) if part)


def score_pending(
    sessions: sessionmaker[Session],
    classifier: SentimentClassifier,
    *,
    batch_size: int = 64,
    chunk: int = CHUNK,
    on_progress: Callable[[int], None] | None = None,
) -> ScoreResult:
    """Score every pending review, committing each chunk; returns the counts.

    On PostgreSQL a chunk's reviews are taken ``FOR UPDATE SKIP LOCKED`` in the transaction
    that scores and stores them: another process scoring at the same time skips them, so the
    model never runs twice on one review. On SQLite, where a write transaction holds the whole
    file, the model runs outside any transaction (a crawl or the dashboard never waits for it)
    and the chunk is written in one short transaction that re-checks what is still pending; a
    review edited meanwhile keeps its old score and is pending again."""
    result = ScoreResult()
    encoder = getattr(classifier, "encoder_version", None)  # duck-typed models may lack it
    for ids in _pending_chunks(sessions, classifier, chunk):
        if _dialect(sessions) == "postgresql":
            _score_locked(sessions, ids, classifier, batch_size, encoder, result)
        else:
            _score_then_write(sessions, ids, classifier, batch_size, encoder, result)
        if on_progress:
            on_progress(len(ids))
    return result


def _score_locked(
    sessions: sessionmaker[Session],
    ids: list[int],
    classifier: SentimentClassifier,
    batch_size: int,
    encoder: str | None,
    result: ScoreResult,
) -> None:
    """PostgreSQL: take the chunk (SKIP LOCKED), score and store it in one transaction."""
    with sessions.begin() as session:
        reviews = _take_pending(session, ids, classifier)
        stored = embeddings.load(session, [r.id for r in reviews], encoder) if encoder else {}
        texts, analyses = _analyze(classifier, reviews, stored, batch_size)
        scored = zip(reviews, texts, analyses, strict=True)
        _store_scores(session, classifier, list(scored), stored, encoder, result)


def _score_then_write(
    sessions: sessionmaker[Session],
    ids: list[int],
    classifier: SentimentClassifier,
    batch_size: int,
    encoder: str | None,
    result: ScoreResult,
) -> None:
    """SQLite: the model runs outside any transaction; one short write re-checks the chunk."""
    with read_only(sessions)() as session:
        query = select(Review.id, Review.title, Review.text, Review.rating, Review.content_hash)
        rows = session.execute(query.where(Review.id.in_(ids)).order_by(Review.id)).all()
        stored = embeddings.load(session, ids, encoder) if encoder else {}
    texts, analyses = _analyze(classifier, rows, stored, batch_size)
    scored = {
        row.id: (row.content_hash, text, analysis)
        for row, text, analysis in zip(rows, texts, analyses, strict=True)
    }
    with sessions.begin() as session:
        fresh = [
            (review, *scored[review.id][1:])
            for review in _take_pending(session, ids, classifier)
            if review.id in scored and scored[review.id][0] == review.content_hash
        ]  # an edit that arrived meanwhile is scored at the next pass
        _store_scores(session, classifier, fresh, stored, encoder, result)


def _store_scores(
    session: Session,
    classifier: SentimentClassifier,
    scored: list[tuple[Review, str, Analysis]],
    stored: dict[int, Any],
    encoder: str | None,
    result: ScoreResult,
) -> None:
    """Write a chunk's analyses (and new vectors); keep the replaced version's text label."""
    _remember_replaced_labels(session, [review for review, _text, _analysis in scored])
    for review, text, analysis in scored:
        _store(session, review, analysis, classifier)
        _store_vectors(session, stored, review.id, encoder, text, analysis)
        result.add(analysis)


def _analyze(
    classifier: SentimentClassifier,
    reviews: Sequence[Any],
    stored: dict[int, Any],
    batch_size: int,
) -> tuple[list[str], list[Any]]:
    """What the model reads, and its analyses, reusing stored vectors of the same text."""
    texts = [scoring_text(r.title, r.text) for r in reviews]
    if not reviews:
        return texts, []
    vectors = [_reusable(stored.get(r.id), t) for r, t in zip(reviews, texts, strict=True)]
    ratings = [r.rating for r in reviews]
    return texts, list(classifier.analyze(texts, ratings, batch_size, vectors=vectors))


def _store_vectors(
    session: Session,
    stored: dict[int, Any],
    review_id: int,
    encoder: str | None,
    text: str,
    analysis: Analysis,
) -> None:
    if encoder and analysis.vectors is not None:
        vectors = analysis.vectors
        hashed = embeddings.text_hash(text)
        embeddings.store(
            session, stored, review_id, encoder, hashed, vectors.text, vectors.sentences
        )


def _dialect(sessions: sessionmaker[Session]) -> str:
    bind = sessions.kw.get("bind")
    return bind.dialect.name if bind is not None else ""


def _take_pending(
    session: Session, ids: list[int], classifier: SentimentClassifier
) -> list[Review]:
    """The chunk's reviews that are still pending and not being scored by another process."""
    query = (
        pending_query(classifier.model_id, classifier.version)
        .with_only_columns(Review)
        .where(Review.id.in_(ids))
        .order_by(Review.id)
        .options(selectinload(Review.sentiment))  # one query, not one lazy load per review
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Review, skip_locked=True)
    return list(session.scalars(query).all())


def _reusable(row: Any, text: str) -> Vectors | None:
    """The stored vectors, when they were computed from this very text."""
    from sentiment import Vectors

    if row is None or row.text_hash != embeddings.text_hash(text):
        return None
    unpacked = embeddings.unpack(row)
    return Vectors(unpacked.text, unpacked.sentences)


def _remember_replaced_labels(session: Session, reviews: list[Review]) -> None:
    """An edited review's previous score belongs to the version the edit replaced: keep its
    text label on that revision before the new score overwrites it."""
    edited = {
        r.id: r.sentiment
        for r in reviews
        if r.sentiment is not None and r.sentiment.content_hash != r.content_hash
    }
    if not edited:
        return
    query = select(ReviewRevision).where(
        ReviewRevision.review_id.in_(list(edited)), ReviewRevision.text_label.is_(None)
    )
    for revision in session.scalars(query):
        old = edited[revision.review_id]
        if revision.content_hash == old.content_hash:
            revision.text_label = text_label(old.probs) or old.label


def text_label(probs: dict[str, Any] | None) -> str | None:
    """The label the text alone got (stars aside): the most probable class."""
    if not probs:
        return None
    return max(LABELS, key=lambda label: float(probs.get(label, 0.0)))


def _pending_chunks(
    sessions: sessionmaker[Session], classifier: SentimentClassifier, chunk: int
) -> Iterator[list[int]]:
    """Pending ids in id order, a chunk at a time; a fresh query each time keeps it resumable."""
    last_id = 0
    while True:
        with read_only(sessions)() as session:
            query = pending_query(classifier.model_id, classifier.version)
            query = query.where(Review.id > last_id).order_by(Review.id).limit(chunk)
            ids = list(session.scalars(query))
        if not ids:
            return
        yield ids
        last_id = ids[-1]


def _store(
    session: Session, review: Review, analysis: Analysis, classifier: SentimentClassifier
) -> None:
    row = review.sentiment or Sentiment(review_id=review.id)
    row.label = analysis.label
    row.score = float(analysis.score)
    row.probs = {k: float(v) for k, v in analysis.probs.items()}
    row.mixed = bool(analysis.mixed)
    row.aspects = list(analysis.aspects)
    row.signals = list(analysis.signals)
    row.urgency = int(analysis.urgency)
    row.aspect_polarity = {k: int(v) for k, v in analysis.aspect_polarity.items()}
    row.needs_check = bool(analysis.check)
    row.sci_satisfied = int(analysis.sci.get("satisfied", 0))
    row.sci_return = int(analysis.sci.get("return", 0))
    row.sci_recommend = int(analysis.sci.get("recommend", 0))
    row.model_id = classifier.model_id
    row.model_version = classifier.version
    row.content_hash = review.content_hash
    row.scored_at = utcnow()
    session.add(row)


def correct_label(
    session: Session, review_id: int, label: str, actor: str, now: datetime | None = None
) -> bool:
    """A person's correction of the model's label; it wins in the dashboard and feeds retraining.
    Returns whether it changed anything: confirming the model's label records that a person
    checked it (it then feeds retraining); the same correction twice changes nothing."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    row = session.get(Sentiment, review_id)
    if row is None:
        raise LookupError(f"review {review_id} has not been scored yet")
    if row.corrected_label == label:
        return False
    row.corrected_label = label
    row.corrected_by = actor
    row.corrected_at = now or utcnow()
    return True


def training_examples(session: Session) -> list[tuple[str, str]]:
    """Labelled texts from the database for retraining: people's corrections first, then star
    ratings (1-2 negative, 4-5 positive); 3 stars are ambiguous and left out."""
    corrected = session.execute(
        select(Review.title, Review.text, Sentiment.corrected_label)
        .join(Sentiment, Sentiment.review_id == Review.id)
        .where(Sentiment.corrected_label.is_not(None))
    ).all()
    rated = session.execute(
        select(Review.title, Review.text, Review.rating)
        .outerjoin(Sentiment, Sentiment.review_id == Review.id)
        .where(Review.rating.is_not(None), Review.rating != 3, Sentiment.corrected_label.is_(None))
    ).all()
    examples = [(scoring_text(title, text), label) for title, text, label in corrected]
    examples += [
        (scoring_text(title, text), "negative" if rating <= 2 else "positive")
        for title, text, rating in rated
        if rating <= 2 or rating >= 4
    ]
    return [(text, label) for text, label in examples if text.strip()]
