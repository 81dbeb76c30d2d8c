"""From model outputs to what a person triages: label, mixed, check, aspects with polarity, SCI.

The classifier supplies probabilities and embeddings; this module applies the product's rules:
- stars and text together (:func:`combine`): 1-2 stars are negative, 4-5 stars with a negative
  text are ``mixed``; a 4-5 star review whose text is uncertain *and* holds one clearly
  negative sentence is ``mixed`` too (sarcasm: "Fantastic service, they charged me twice and it
  took three weeks to get a refund. Truly outstanding.");
- ``check``: a non-negative review whose probability of negative is in the uncertain band
  (``sentiment.routing.CHECK_LOW``) goes to a person, flagged;
- per aspect, the polarity of the sentences that name it ("food +, service -");
- the three Secure Customer Index signals (``sentiment.sci``).

Embeddings come back as :class:`Vectors` so the caller can store them; given back later they
spare the encoder (a new head re-scores from them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sentiment import aspects as aspect_mod
from sentiment import sci as sci_mod
from sentiment import sentences as sentence_mod
from sentiment import urgency as urgency_mod
from sentiment.head import LABELS
from sentiment.routing import CHECK_LOW, CLEAR_SENTENCE

if TYPE_CHECKING:
    from sentiment.classifier import SentimentClassifier

POLARITY_CUT = 0.3  # |p(pos) - p(neg)| of an aspect's sentences below this is neutral (0)


@dataclass(frozen=True)
class Prediction:
    """Text-only sentiment."""

    label: str
    score: float
    probs: dict[str, float]


@dataclass(frozen=True)
class Vectors:
    """A text's embeddings: the whole text, and the sentences (by index in
    ``sentiment.sentences.split``) that the analysis needed."""

    text: np.ndarray
    sentences: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    """Text and star rating together, plus what a person needs to triage it."""

    label: str
    score: float
    probs: dict[str, float]
    mixed: bool
    aspects: list[str]
    urgency: int
    signals: list[str]
    aspect_polarity: dict[str, int] = field(default_factory=dict)
    sci: dict[str, int] = field(default_factory=dict)
    check: bool = False
    vectors: Vectors | None = field(default=None, compare=False, repr=False)


def to_prediction(p: np.ndarray) -> Prediction:
    """Class probabilities (LABELS order) -> Prediction with score = p(pos) - p(neg)."""
    probs = {lbl: round(float(v), 4) for lbl, v in zip(LABELS, p, strict=True)}
    score = float(np.clip(p[2] - p[0], -1.0, 1.0))
    return Prediction(LABELS[int(np.argmax(p))], round(score, 4), probs)


def rating_label(rating: float) -> str:
    """Stars alone: 1-2 negative, 3 neutral, 4-5 positive (ratings are normalised to 1..5)."""
    if rating <= 2.5:
        return "negative"
    return "neutral" if rating < 3.5 else "positive"


def combine(pred: Prediction, rating: float | None, empty: bool) -> tuple[str, float, bool]:
    """Apply the product rules: low stars are negative; stars and text that disagree are mixed.

    Returns (label, score, mixed). The score blends text and stars when both exist so that a
    1-star review never ranks as positive.
    """
    if rating is None:
        return pred.label, pred.score, False
    star_score = float(np.clip((rating - 3.0) / 2.0, -1.0, 1.0))
    if empty:
        return rating_label(rating), star_score, False
    score = round(0.5 * pred.score + 0.5 * star_score, 4)
    if rating <= 2.5:
        return "negative", min(score, -0.1), pred.label == "positive"
    mixed = rating >= 3.5 and pred.label == "negative"
    return pred.label, score, mixed


def polarity(score: float) -> int:
    return 1 if score >= POLARITY_CUT else -1 if score <= -POLARITY_CUT else 0


@dataclass
class _Pieces:
    """One text's sentences and which of them the analysis needs read on their own."""

    parts: list[str]
    wanted: list[int] = field(default_factory=list)
    probs: dict[int, np.ndarray] = field(default_factory=dict)
    emb: dict[int, np.ndarray] = field(default_factory=dict)


def analyze(
    clf: SentimentClassifier,
    texts: Sequence[str],
    ratings: Sequence[float | None],
    batch_size: int = 32,
    vectors: Sequence[Vectors | None] | None = None,
) -> list[Analysis]:
    """Predict (reusing stored vectors), then apply the rules above per review."""
    texts = list(texts)
    known = list(vectors) if vectors is not None else [None] * len(texts)
    if not (len(texts) == len(ratings) == len(known)):
        raise ValueError("texts, ratings and vectors must have the same length")
    probs, emb = clf._infer_known(texts, batch_size, [v.text if v else None for v in known])
    desc = clf._aspect_matrix()
    found = aspect_mod.detect(texts, emb, desc)
    preds = [to_prediction(p) for p in probs]
    pieces = [_plan(t, r, p, a) for t, r, p, a in zip(texts, ratings, preds, found, strict=True)]
    _read_sentences(clf, pieces, known, batch_size)
    out = []
    for i, (text, rating) in enumerate(zip(texts, ratings, strict=True)):
        sentence_vectors = pieces[i].emb
        has_text = emb is not None and bool(text.strip())  # an empty text has no vector to keep
        vec = Vectors(emb[i], dict(sentence_vectors)) if has_text else None
        out.append(_one(text, rating, preds[i], found[i], pieces[i], vec))
    return out


def _plan(text: str, rating: float | None, pred: Prediction, found: list[str]) -> _Pieces:
    """Which sentences to read alone: those naming an aspect by keyword (for its polarity), and
    all of a 4-5 star review whose text is uncertain (to look for a clearly negative one)."""
    parts = sentence_mod.split(text) if text.strip() else []
    if len(parts) < 2:
        return _Pieces(parts)
    wanted: set[int] = set()
    if found:
        wanted |= {j for j, s in enumerate(parts) if aspect_mod.keyword_aspects(s) & set(found)}
    suspicious = pred.label != "negative" and pred.probs["negative"] >= CHECK_LOW
    if rating is not None and rating >= 3.5 and suspicious:
        wanted |= set(range(len(parts)))
    return _Pieces(parts, sorted(wanted))


def _read_sentences(
    clf: SentimentClassifier,
    pieces: list[_Pieces],
    known: list[Vectors | None],
    batch_size: int,
) -> None:
    """One batched model call for every wanted sentence of the chunk; stored vectors reused."""
    flat: list[tuple[int, int]] = [(i, j) for i, p in enumerate(pieces) for j in p.wanted]
    if not flat:
        return
    texts = [pieces[i].parts[j] for i, j in flat]
    stored = [known[i].sentences.get(j) if known[i] else None for i, j in flat]
    probs, emb = clf._infer_known(texts, batch_size, stored)
    for row, (i, j) in enumerate(flat):
        pieces[i].probs[j] = probs[row]
        if emb is not None:
            pieces[i].emb[j] = emb[row]


def _one(
    text: str,
    rating: float | None,
    pred: Prediction,
    found: list[str],
    pieces: _Pieces,
    vectors: Vectors | None,
) -> Analysis:
    label, score, mixed = combine(pred, rating, not text.strip())
    p_negative = pred.probs["negative"]
    if not mixed and rating is not None and rating >= 3.5 and label != "negative":
        clearly = [p[0] >= CLEAR_SENTENCE for p in pieces.probs.values()]
        mixed = p_negative >= CHECK_LOW and any(clearly)
    check = not mixed and label != "negative" and p_negative >= CHECK_LOW
    check = check and (rating is None or rating < 3.5)
    signals = urgency_mod.find_signals(text)
    urgency = urgency_mod.urgency(rating, p_negative, signals, mixed, label)
    return Analysis(
        label=label,
        score=score,
        probs=pred.probs,
        mixed=mixed,
        aspects=found,
        urgency=urgency,
        signals=signals,
        aspect_polarity=_aspect_polarity(found, pieces, pred),
        sci=sci_mod.signals(text, None if mixed else label, rating),
        check=check,
        vectors=vectors,
    )


def _aspect_polarity(found: list[str], pieces: _Pieces, pred: Prediction) -> dict[str, int]:
    """Per aspect: the mean p(pos) - p(neg) of the sentences naming it; the whole text's when no
    single sentence does (one-sentence reviews, aspects found by similarity only)."""
    out = {}
    for aspect in found:
        scores = [
            float(pieces.probs[j][2] - pieces.probs[j][0])
            for j in pieces.wanted
            if j in pieces.probs and aspect in aspect_mod.keyword_aspects(pieces.parts[j])
        ]
        out[aspect] = polarity(float(np.mean(scores)) if scores else pred.score)
    return out
