"""The sentiment benchmark's FLOP count, checked against torch's own count of the real model.

The benchmark reports how close `revmon score` runs to this CPU's matrix-multiply limit; that
claim is only as good as its FLOP formula, so the formula is checked here on the bundled model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "bench" / "sentiment.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sentiment", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_encoder_flops_match_torchs_count_of_the_bundled_model():
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoModel

    from sentiment.classifier import resolve_encoder
    from sentiment.e5convert import ensure_converted
    from sentiment.encoder import collate, segment_texts

    encoder = resolve_encoder(None, None, "torch")
    # eager attention: its matrix products are ordinary bmm calls that the counter sees
    model = AutoModel.from_pretrained(
        ensure_converted(None), local_files_only=True, attn_implementation="eager"
    ).eval()
    texts = ["Great food!", "Ужасно: ждали два часа, еда холодная, персонал хамит. " * 3]
    counted = 0
    for window in segment_texts(encoder.tokenizer, texts, encoder.prefix, encoder.max_length):
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(**collate([window], pad_id=1))
        pooler = 2 * model.config.hidden_size**2  # BertModel's CLS pooler, unused by revmon
        counted += counter.get_total_flops() - pooler
    gflop = _bench().encoder_gflop(texts, encoder, model.config)
    assert gflop == pytest.approx(counted / 1e9, rel=1e-9)
