"""Stored embeddings: written once by scoring, read by re-scoring, incidents, topics and
near-duplicate checks instead of running the encoder again.

Vectors are kept as little-endian float16 bytes: 768 bytes for a 384-dimensional vector, a
quarter of what JSON floats would take. Unit-length e5 vectors lose nothing that matters in
float16 (about 3 significant digits per component; cosine to the float32 original > 0.9999).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.insight_models import ReviewEmbedding
from pipeline.models import utcnow

DTYPE = np.dtype("<f2")


@dataclass(frozen=True)
class Stored:
    """One review's stored vectors: the text's, then the listed sentences'."""

    text_hash: str
    text: np.ndarray
    sentences: dict[int, np.ndarray]


def text_hash(text: str) -> str:
    """What the vectors were computed from: a change of text (not of rating or reply) voids them."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pack(text: np.ndarray, sentences: dict[int, np.ndarray]) -> tuple[bytes, list[int], int]:
    """float16 bytes of [text, *sentences in index order], the sentence indexes, the dimension."""
    order = sorted(sentences)
    matrix = np.vstack([text, *(sentences[i] for i in order)]).astype(DTYPE)
    return matrix.tobytes(), order, int(matrix.shape[1])


def unpack(row: ReviewEmbedding) -> Stored:
    matrix = np.frombuffer(row.vectors, dtype=DTYPE).reshape(-1, row.dim).astype(np.float32)
    order = [int(i) for i in row.sentences or []]
    if matrix.shape[0] != len(order) + 1:
        raise ValueError(f"review {row.review_id}: stored vectors do not match their index")
    return Stored(row.text_hash, matrix[0], dict(zip(order, matrix[1:], strict=True)))


def load(session: Session, review_ids: Sequence[int], encoder: str) -> dict[int, ReviewEmbedding]:
    """The stored rows for these reviews and this encoder version, by review id."""
    if not review_ids:
        return {}
    query = select(ReviewEmbedding).where(
        ReviewEmbedding.review_id.in_(list(review_ids)), ReviewEmbedding.encoder == encoder
    )
    return {row.review_id: row for row in session.scalars(query)}


def store(
    session: Session,
    existing: dict[int, ReviewEmbedding],
    review_id: int,
    encoder: str,
    hashed: str,
    text: np.ndarray,
    sentences: dict[int, np.ndarray],
) -> None:
    """Write (or overwrite) one review's vectors through the session."""
    blob, order, dim = pack(text, sentences)
    row = existing.get(review_id) or ReviewEmbedding(review_id=review_id, encoder=encoder)
    row.text_hash, row.vectors, row.sentences, row.dim = hashed, blob, order, dim
    row.created_at = utcnow()
    session.add(row)
    existing[review_id] = row


def text_matrix(
    session: Session, review_ids: Iterable[int], encoder: str | None = None
) -> tuple[list[int], np.ndarray]:
    """The whole-text vectors of the given reviews (those that have one), as a float32 matrix
    [n, dim] of unit rows, with the review ids in row order. ``encoder`` None: the most recently
    written encoder version per review."""
    ids = list(review_ids)
    rows: dict[int, ReviewEmbedding] = {}
    for start in range(0, len(ids), 5000):
        query = select(ReviewEmbedding).where(
            ReviewEmbedding.review_id.in_(ids[start : start + 5000])
        )
        if encoder is not None:
            query = query.where(ReviewEmbedding.encoder == encoder)
        for row in session.scalars(query.order_by(ReviewEmbedding.created_at)):
            rows[row.review_id] = row
    order = [i for i in ids if i in rows]
    if not order:
        return [], np.zeros((0, 0), dtype=np.float32)
    first = np.stack([np.frombuffer(rows[i].vectors, dtype=DTYPE)[: rows[i].dim] for i in order])
    matrix = first.astype(np.float32)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return order, matrix
