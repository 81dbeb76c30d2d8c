"""The logistic-regression head over sentence embeddings: fit, save, load, predict.

Why a linear head: the multilingual encoder already separates sentiment well; a linear model
trained on a few hundred labelled reviews per language transfers across languages, trains in
seconds on CPU, and ships as a few kilobytes. It is stored as ``.npz`` of plain arrays plus a
JSON metadata string (``allow_pickle=False``), so loading a head can never execute code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Head:
    """Multinomial logistic regression: probs = softmax(x @ coef.T + intercept)."""

    coef: np.ndarray  # [n_classes, dim]
    intercept: np.ndarray  # [n_classes]
    classes: tuple[str, ...] = LABELS
    meta: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Changes whenever the weights change: part of the classifier version."""
        h = hashlib.sha256(self.coef.astype(np.float32).tobytes())
        h.update(self.intercept.astype(np.float32).tobytes())
        h.update(",".join(self.classes).encode())
        return h.hexdigest()[:10]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [n, n_classes] in ``self.classes`` order."""
        logits = np.asarray(x, dtype=np.float64) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def fit_head(
    x: np.ndarray, labels: Sequence[str], c: float = 10.0, meta: dict | None = None
) -> Head:
    """Fit a class-balanced multinomial logistic regression on unit-length embeddings."""
    from sklearn.linear_model import LogisticRegression

    y = np.array([LABELS.index(lbl) for lbl in labels])
    missing = set(range(len(LABELS))) - set(y.tolist())
    if missing:
        raise ValueError(f"training data lacks classes: {[LABELS[i] for i in sorted(missing)]}")
    clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    clf.fit(x, y)
    order = [list(clf.classes_).index(i) for i in range(len(LABELS))]
    return Head(clf.coef_[order].copy(), clf.intercept_[order].copy(), LABELS, dict(meta or {}))


def save_head(head: Head, path: Path) -> Path:
    """Write the head atomically (tmp file + rename) so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        coef=head.coef.astype(np.float32),
        intercept=head.intercept.astype(np.float32),
        classes=np.array(head.classes),
        meta=np.array(json.dumps(head.meta, ensure_ascii=False)),
    )
    tmp.replace(path)
    return path


def load_head(path: Path) -> Head:
    """Read a head written by :func:`save_head`; never unpickles."""
    with np.load(Path(path), allow_pickle=False) as data:
        return Head(
            coef=data["coef"].astype(np.float64),
            intercept=data["intercept"].astype(np.float64),
            classes=tuple(str(c) for c in data["classes"]),
            meta=json.loads(str(data["meta"])),
        )
