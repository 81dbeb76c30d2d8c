"""Model selection helpers: folds never leak a row into its own training set."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from sentiment.crossval import argmax_labels, out_of_fold, stratified_folds
from sentiment.head import LABELS


def _rows(n: int) -> list[dict]:
    return [{"text": str(i), "label": LABELS[i % 3], "lang": ("en", "pl")[i % 2]} for i in range(n)]


def test_stratified_folds_partition_rows_and_spread_each_language_and_label():
    rows = _rows(60)  # 6 (language, label) groups of 10
    folds = stratified_folds(rows, 5)
    assert sorted(i for f in folds for i in f) == list(range(60))
    for fold in folds:
        counts = Counter((rows[i]["lang"], rows[i]["label"]) for i in fold)
        assert sorted(counts.values()) == [2] * 6
    assert folds == stratified_folds(rows, 5)  # same seed, same folds


def test_out_of_fold_trains_without_the_predicted_fold():
    rows = _rows(30)
    labels = [r["label"] for r in rows]
    x = np.eye(3, dtype=np.float32)[[LABELS.index(y) for y in labels]]
    folds = stratified_folds(rows, 3)
    seen = []

    def embed(train_idx):
        seen.append(set(train_idx))
        return x

    proba = out_of_fold(embed, labels, folds, c=10.0)
    assert proba.shape == (30, 3)
    assert np.allclose(proba.sum(1), 1.0)
    assert argmax_labels(proba) == labels
    assert all(not (train & set(fold)) for train, fold in zip(seen, folds, strict=True))


def test_near_duplicates_reports_only_texts_above_the_threshold():
    from sentiment.training import near_duplicates

    vectors = {"a": [1.0, 0.0], "a'": [0.99, 0.141], "b": [0.0, 1.0], "c": [0.8, 0.6]}

    class Stub:
        def embed(self, texts):
            return np.array([vectors[t] for t in texts])

    close = near_duplicates(["a'", "b", "c"], ["a"], Stub(), threshold=0.92)
    assert [(i, j) for i, j, _ in close] == [(0, 0)]
    assert close[0][2] > 0.98


def test_negative_bias_curve_recovers_borderline_negatives():
    from sentiment.crossval import negative_bias_curve

    # negatives just under neutral, clear neutrals and positives: a bias above ln(0.55/0.45)
    # ~ 0.2 recovers every negative without costing a neutral; above ln 9 ~ 2.2 neutrals flip
    proba = np.array([[0.45, 0.55, 0.0]] * 10 + [[0.1, 0.9, 0.0]] * 10 + [[0.0, 0.0, 1.0]] * 10)
    labels = ["negative"] * 10 + ["neutral"] * 10 + ["positive"] * 10
    curve = {b: (acc, f) for b, acc, f in negative_bias_curve(proba, labels, (0.0, 0.2, 0.3, 2.3))}
    assert curve[0.0] == (20 / 30, 0.0)
    assert curve[0.2] == (20 / 30, 0.0)
    assert curve[0.3] == (1.0, 1.0)
    assert curve[2.3] == pytest.approx((20 / 30, 2 / 3))  # precision 1/2, recall 1


def test_screen_drops_repeats_and_paraphrases_and_keeps_new_texts():
    from sentiment.training import screen

    vectors = {
        "Slow delivery.": [1.0, 0.0],
        "Delivery was slow.": [0.99, 0.141],  # a paraphrase of the reference
        "Lovely staff": [0.0, 1.0],
        "Fair prices": [0.8, 0.6],  # cosine 0.8: a different review
    }

    class Stub:
        def embed(self, texts):
            return np.array([vectors[t] for t in texts])

    texts = [
        "Lovely staff",
        "  SLOW   delivery. ",
        "Delivery was slow.",
        "Fair prices",
        "Lovely staff",
    ]
    dropped = screen(texts, ["Slow delivery."], Stub(), threshold=0.92)
    assert [(d.index, d.reason, d.closest) for d in dropped] == [
        (1, "repeat", "Slow delivery."),  # case and spacing do not hide a repeat
        (2, "paraphrase", "Slow delivery."),
        (4, "repeat", "Lovely staff"),  # a repeat within the screened file
    ]
    assert dropped[1].cosine > 0.98
