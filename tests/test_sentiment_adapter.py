"""LoRA adapter tests on a tiny BERT the tests build (no real weights, no network)."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from sentiment import adapter as adapter_mod
from sentiment.adapter import Adapter, attach, extract, load_adapter, merge, save_adapter
from sentiment.classifier import EmbeddingClassifier, pick_head, user_head_path
from sentiment.encoder import load_encoder
from sentiment.finetune import CachedTop, target_names, train_adapter
from sentiment.head import LABELS, Head, load_head, save_head
from tests.test_sentiment_unit import bert_config, make_tokenizer

TEXTS = ["good great", "great food", "bad awful", "awful slow", "ok", "the food was ok"]
LABELS_ = ["positive", "positive", "negative", "negative", "neutral", "neutral"]
TARGETS = ["encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from transformers import BertModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-lora")
    BertModel(bert_config()).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def random_adapter(seed: int) -> Adapter:
    from transformers import BertModel

    model = BertModel(bert_config())
    wrapped = attach(model, TARGETS, rank=2, alpha=4.0, seed=seed)
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for w in wrapped.values():
            w.b.copy_(torch.randn(w.b.shape, generator=gen) * 0.5)
    return extract(wrapped, {"note": "test"})


def test_adapter_round_trip_without_pickle(tmp_path):
    ad = random_adapter(0)
    path = save_adapter(ad, tmp_path / "a.npz")
    loaded = load_adapter(path)
    assert loaded.digest == ad.digest and loaded.scale == ad.scale
    assert loaded.meta == {"note": "test"}
    for name in ad.a:
        np.testing.assert_array_equal(loaded.a[name], ad.a[name])
        np.testing.assert_array_equal(loaded.b[name], ad.b[name])
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    assert random_adapter(1).digest != ad.digest


def test_merged_weights_equal_lora_forward():
    from transformers import BertModel

    torch.manual_seed(0)
    model = BertModel(bert_config()).eval()
    ids = torch.tensor([[2, 4, 5, 3]])
    wrapped = attach(model, TARGETS, rank=2, alpha=4.0, seed=3)
    with torch.no_grad():
        for w in wrapped.values():
            w.b.normal_()
        lora_out = model(input_ids=ids).last_hidden_state
    ad = extract(wrapped)
    for name, w in wrapped.items():  # put the plain layers back, then merge
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent), attr, w.base)
    with torch.no_grad():
        base_out = model(input_ids=ids).last_hidden_state
        merged_out = merge(model, ad)(input_ids=ids).last_hidden_state
        restored = merge(model, ad, -1.0)(input_ids=ids).last_hidden_state
    assert not torch.allclose(base_out, lora_out)
    torch.testing.assert_close(merged_out, lora_out, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(restored, base_out, atol=1e-5, rtol=1e-4)


def test_version_changes_when_adapter_changes(tiny_dir, tmp_path):
    a1 = save_adapter(random_adapter(0), tmp_path / "a1.npz")
    a2 = save_adapter(random_adapter(1), tmp_path / "a2.npz")
    base = load_encoder(str(tiny_dir), prefix="")
    e1 = load_encoder(str(tiny_dir), prefix="", adapter=str(a1))
    e2 = load_encoder(str(tiny_dir), prefix="", adapter=str(a2))
    assert len({base.revision, e1.revision, e2.revision}) == 3
    assert e1.revision.startswith(base.revision + "+lora-")
    assert e1.model_id == base.model_id
    x = ["good food", "bad slow"]
    assert not np.allclose(e1.embed(x), base.embed(x))
    head = Head(np.ones((3, 32)), np.zeros(3), LABELS, {})
    assert EmbeddingClassifier(e1, head).version != EmbeddingClassifier(e2, head).version


def test_onnx_export_of_adapted_model_matches_torch(tiny_dir, tmp_path):
    from sentiment import onnx_backend

    if not onnx_backend.available():
        pytest.skip("onnx/onnxruntime not installed")
    ad = random_adapter(2)
    path = save_adapter(ad, tmp_path / "a.npz")
    texts = ["good food", "the staff was slow and the price bad", "ok"]
    torch_enc = load_encoder(str(tiny_dir), prefix="", adapter=str(path))
    onnx_enc = load_encoder(str(tiny_dir), prefix="", backend="onnx", adapter=str(path))
    assert onnx_enc.backend == "onnx" and onnx_enc.revision == torch_enc.revision
    assert (tiny_dir / onnx_backend.onnx_name(ad)).exists()
    np.testing.assert_allclose(onnx_enc.embed(texts, 2), torch_enc.embed(texts), atol=1e-4)


def test_train_adapter_is_reproducible_and_leaves_base_intact(tiny_dir, monkeypatch):
    from transformers import AutoModel

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    tok = make_tokenizer()
    model = AutoModel.from_pretrained(str(tiny_dir), local_files_only=True).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cache = CachedTop(model, tok, TEXTS, frozen=0, prefix="")
    ad1 = train_adapter(cache, LABELS_, epochs=2, seed=0)
    ad2 = train_adapter(cache, LABELS_, epochs=2, seed=0)
    assert ad1.digest == ad2.digest and set(ad1.a) == set(target_names(1, 0))
    assert any(np.abs(b).max() > 0 for b in ad1.b.values())  # it learned something
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    base = cache.embed(list(range(len(TEXTS))))
    full = load_encoder(str(tiny_dir), prefix="").embed(TEXTS)
    np.testing.assert_allclose(base, full, atol=1e-5)  # cached path == normal forward


def test_user_head_for_another_encoder_revision_is_ignored(tmp_path):
    head = Head(np.ones((3, 4)), np.zeros(3), LABELS, {"encoder": "e", "encoder_revision": "r1"})
    save_head(head, user_head_path(tmp_path))
    assert pick_head("e", tmp_path, "r1").digest == head.digest
    shipped = load_head(Path(adapter_mod.__file__).with_name("data") / "head.npz")
    assert pick_head("e", tmp_path, "r2").digest == shipped.digest


def test_shipped_artefacts_are_small_npz_only():
    data = Path(adapter_mod.__file__).with_name("data")
    pkg = data.parent
    banned = {".bin", ".pt", ".pth", ".onnx", ".safetensors", ".pkl"}
    assert not [p for p in pkg.rglob("*") if p.suffix in banned]
    if adapter_mod.ADAPTER_FILE.exists():
        assert adapter_mod.ADAPTER_FILE.stat().st_size < 5_000_000
        ad = load_adapter(adapter_mod.ADAPTER_FILE)
        assert ad.a and all(v.dtype == np.float32 for v in ad.a.values())


def test_a_new_adapter_graph_replaces_the_stale_one_but_not_the_base(tiny_dir, tmp_path):
    import shutil

    from sentiment import onnx_backend

    if not onnx_backend.available():
        pytest.skip("onnx/onnxruntime not installed")
    folder = tmp_path / "model"
    shutil.copytree(tiny_dir, folder)
    old, new = random_adapter(3), random_adapter(4)
    load_encoder(str(folder), prefix="", backend="onnx")  # the base graph, which stays
    onnx_backend.OnnxForward.for_model_dir(folder, old)
    assert (folder / onnx_backend.onnx_name(old)).exists()
    onnx_backend.OnnxForward.for_model_dir(folder, new)  # the upgrade: a new adapter digest
    graphs = sorted(p.name for p in folder.glob("*.onnx"))
    assert graphs == sorted([onnx_backend.ONNX_NAME, onnx_backend.onnx_name(new)])
    onnx_backend.OnnxForward.for_model_dir(folder, new)  # reopening exports and removes nothing
    assert sorted(p.name for p in folder.glob("*.onnx")) == graphs
