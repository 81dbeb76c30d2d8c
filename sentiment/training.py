"""Fit the head on labelled reviews and measure it; used by the CLI and by ``revmon``'s wiring.

Why separate from the classifier: training needs scikit-learn metrics and the shipped data set,
inference does not; and the lead's code passes DB-derived labels (dashboard corrections, 1-2 star
= negative, 4-5 star = positive) as ``extra`` without knowing how the head is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentiment.classifier import (
    SentimentClassifier,
    load_classifier,
    read_jsonl,
    resolve_encoder,
    user_head_path,
)
from sentiment.head import LABELS, fit_head, save_head

DATA_DIR = Path(__file__).with_name("data")
TRAIN_FILE = DATA_DIR / "train.jsonl"
TEST_FILE = DATA_DIR / "test.jsonl"
TEST2_FILE = DATA_DIR / "test2.jsonl"
TEST3_FILE = DATA_DIR / "test3.jsonl"
# written blind after release 4 was final; items paraphrasing any earlier text were dropped
TEST4_FILE = DATA_DIR / "test4.jsonl"
# written blind after release 5 was final (sentiment/data/LABELLING.md), screened the same way
TEST5_FILE = DATA_DIR / "test5.jsonl"
TEST_FILES = (TEST_FILE, TEST2_FILE, TEST3_FILE, TEST4_FILE, TEST5_FILE)
# what `revmon sentiment screen --against` compares a new file with
SCREEN_SETS = {"all": (TRAIN_FILE, *TEST_FILES), "train": (TRAIN_FILE,), "held-out": TEST_FILES}
# Training reviews closer than this (cosine, base encoder) to a held-out one are paraphrases of
# it ("Delivery took three days, as stated" / "..., as the website said") and are dropped.
NEAR_DUPLICATE = 0.92
HEAD_C = 10.0  # chosen by 5-fold cross-validation on the training set only (see MODEL_CARD.md)
PRIMARY_LANGS = ("en", "ru", "pl", "uk", "de", "es")
F1_KEYS = tuple(f"f1_{label}" for label in LABELS)


def shipped_examples() -> list[tuple[str, str]]:
    """(text, label) pairs of the shipped training set."""
    return [(r["text"], r["label"]) for r in read_jsonl(TRAIN_FILE)]


def train_head(
    extra: Iterable[tuple[str, str]] = (),
    out: Path | None = None,
    model: str | None = None,
    cache_dir: str | None = None,
    c: float = HEAD_C,
) -> dict:
    """Refit the head on the shipped set plus ``extra`` (text, label) pairs and save it.

    By default the head goes to the user cache (``<cache>/sentiment-head.npz``), where
    ``load_classifier`` picks it up on its next (uncached) load; pass ``out`` to write elsewhere,
    e.g. ``sentiment/data/head.npz`` when releasing a new shipped head. Returns metrics.
    """
    encoder = resolve_encoder(model, cache_dir)
    pairs = shipped_examples() + [(t, lbl) for t, lbl in extra if t and t.strip()]
    bad = {lbl for _, lbl in pairs} - set(LABELS)
    if bad:
        raise ValueError(f"unknown labels: {sorted(bad)}")
    x = encoder.embed([t for t, _ in pairs])
    labels = [lbl for _, lbl in pairs]
    meta = {
        "encoder": encoder.model_id,
        "encoder_revision": encoder.revision,
        "n_train": len(pairs),
        "n_extra": len(pairs) - len(shipped_examples()),
        "C": c,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    head = fit_head(x, labels, c=c, meta=meta)
    path = save_head(head, Path(out) if out else user_head_path(cache_dir and Path(cache_dir)))
    train_acc = float(np.mean(head.predict_proba(x).argmax(1) == [LABELS.index(y) for y in labels]))
    load_classifier.cache_clear()
    return {
        "path": str(path),
        "n_train": len(pairs),
        "train_accuracy": round(train_acc, 4),
        "head_digest": head.digest,
    }


def train_shipped(
    out_dir: Path = DATA_DIR,
    cache_dir: str | None = None,
    c: float = HEAD_C,
    epochs: int | None = None,
    seed: int | None = None,
    log=None,
) -> dict:
    """Regenerate the shipped artefacts: LoRA adapter, then the head on the adapted encoder.

    Trains on ``train.jsonl`` only (never the test sets), writes ``adapter.npz`` and ``head.npz``
    into ``out_dir`` and returns their digests. Deterministic for a given seed and torch thread
    count (different thread counts can change float rounding, hence the last digits).
    """
    from transformers import AutoModel, AutoTokenizer

    from sentiment import finetune
    from sentiment.adapter import save_adapter
    from sentiment.e5convert import ensure_converted
    from sentiment.encoder import load_encoder

    folder = ensure_converted(Path(cache_dir) if cache_dir else None)
    rows = read_jsonl(TRAIN_FILE)
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    cache = finetune.CachedTop(model, tokenizer, texts)
    adapter = finetune.train_adapter(
        cache,
        labels,
        epochs=finetune.EPOCHS if epochs is None else epochs,
        seed=finetune.SEED if seed is None else seed,
        log=log,
    )
    out_dir = Path(out_dir)
    adapter_path = save_adapter(adapter, out_dir / "adapter.npz")
    del model, cache
    encoder = load_encoder(str(folder), adapter=str(adapter_path))
    x = encoder.embed(texts)
    meta = {
        "encoder": encoder.model_id,
        "encoder_revision": encoder.revision,
        "n_train": len(rows),
        "n_extra": 0,
        "C": c,
        "adapter": adapter.digest,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    head = fit_head(x, labels, c=c, meta=meta)
    head_path = save_head(head, out_dir / "head.npz")
    load_encoder.cache_clear()
    load_classifier.cache_clear()
    return {
        "adapter": str(adapter_path),
        "adapter_digest": adapter.digest,
        "head": str(head_path),
        "head_digest": head.digest,
        "encoder_revision": encoder.revision,
        "n_train": len(rows),
    }


def near_duplicates(
    train: Sequence[str], held_out: Sequence[str], encoder, threshold: float = NEAR_DUPLICATE
) -> list[tuple[int, int, float]]:
    """(train index, held-out index, cosine) of each training text too close to a held-out one.

    Used to screen new training data before it is merged, and by the tests to keep the shipped
    sets apart. e5 cosines of unrelated texts are already 0.7-0.85, hence the high threshold.
    """
    sims = encoder.embed(list(train)) @ encoder.embed(list(held_out)).T  # unit-length rows
    best = sims.argmax(1)
    return [
        (i, int(best[i]), float(sims[i, best[i]])) for i in np.flatnonzero(sims.max(1) > threshold)
    ]


@dataclass(frozen=True)
class Dropped:
    """One screened text that must not join a set, and the text it repeats or paraphrases."""

    index: int  # position in the screened list
    reason: str  # "repeat" or "paraphrase"
    closest: str
    cosine: float


def normalise(text: str) -> str:
    """Case and spacing folded, so "Great  food!" repeats "great food!"."""
    return " ".join(text.casefold().split())


def screen(
    texts: Sequence[str],
    reference: Sequence[str],
    encoder,
    threshold: float = NEAR_DUPLICATE,
) -> list[Dropped]:
    """The texts that repeat a reference text or an earlier text of their own list, or
    paraphrase a reference text (cosine above ``threshold``), in list order.

    Why: a new held-out set must hold nothing the model was trained or judged on, and new
    training data nothing a held-out set holds; written reviews repeat each other more often
    than one expects (135 of 300 for test4, see MODEL_CARD.md).
    """
    seen = {normalise(t): t for t in reference}
    dropped: dict[int, Dropped] = {}
    fresh: list[int] = []
    for i, text in enumerate(texts):
        key = normalise(text)
        if key in seen:
            dropped[i] = Dropped(i, "repeat", seen[key], 1.0)
        else:
            seen[key] = text
            fresh.append(i)
    if fresh and reference:
        close = near_duplicates([texts[i] for i in fresh], reference, encoder, threshold)
        for k, j, cosine in close:
            dropped[fresh[k]] = Dropped(fresh[k], "paraphrase", reference[j], cosine)
    return [dropped[i] for i in sorted(dropped)]


def f1(y_true: Sequence[str], y_pred: Sequence[str], label: str) -> float:
    """F1 of one class; NaN when the class neither occurs nor is predicted (undefined)."""
    from sklearn.metrics import f1_score

    t = [y == label for y in y_true]
    p = [y == label for y in y_pred]
    if not any(t) and not any(p):
        return float("nan")
    return float(f1_score(t, p, zero_division=0))


def evaluate(clf: SentimentClassifier, rows: Sequence[dict], batch_size: int = 32) -> list[dict]:
    """Accuracy and per-class F1, overall first, then per language (rows without lang: "?")."""
    preds = [p.label for p in clf.predict([r["text"] for r in rows], batch_size)]
    return evaluate_predictions(rows, preds)


def evaluate_predictions(rows: Sequence[dict], preds: Sequence[str]) -> list[dict]:
    """The table of :func:`evaluate` for given predictions (e.g. out-of-fold ones)."""
    gold = [r["label"] for r in rows]
    langs = [r.get("lang") or "?" for r in rows]
    groups = [("all", list(range(len(rows))))]
    for lang in sorted(set(langs), key=lambda x: (x not in PRIMARY_LANGS, x)):
        groups.append((lang, [i for i, g in enumerate(langs) if g == lang]))
    table = []
    for name, idx in groups:
        g = [gold[i] for i in idx]
        p = [preds[i] for i in idx]
        row = {
            "lang": name,
            "n": len(idx),
            "accuracy": float(np.mean([a == b for a, b in zip(g, p, strict=True)])),
        }
        row.update({f"f1_{lbl}": f1(g, p, lbl) for lbl in LABELS})
        table.append(row)
    return table


def format_table(table: list[dict]) -> str:
    """A Markdown table, ready to paste into the model card."""
    head = "| lang | n | accuracy | F1 negative | F1 neutral | F1 positive |"
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for r in table:
        cells = [f"{r[k]:.3f}" if r[k] == r[k] else "n/a" for k in ("accuracy", *F1_KEYS)]
        lines.append(f"| {r['lang']} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
