"""A tiny encoder + head that tests build in a second (no real weights, no network), for the
code paths that store and reuse embeddings."""

from __future__ import annotations

from pathlib import Path

TRAIN = ["good great", "great food", "bad awful", "awful slow", "ok", "the food was ok"]
LABELS = ["positive", "positive", "negative", "negative", "neutral", "neutral"]


def tiny_classifier(path: Path, c: float = 10.0):
    """An ``EmbeddingClassifier`` over a random 1-layer BERT; ``c`` changes the head only."""
    import torch
    from transformers import BertModel

    from sentiment import load_classifier
    from sentiment.encoder import load_encoder
    from sentiment.head import fit_head, save_head
    from tests.test_sentiment_unit import bert_config, make_tokenizer

    if not (path / "config.json").exists():
        torch.manual_seed(0)
        BertModel(bert_config()).save_pretrained(path)
        make_tokenizer().save_pretrained(path)
    encoder = load_encoder(str(path), prefix="")
    head = save_head(fit_head(encoder.embed(TRAIN), LABELS, c=c), path / f"head-{c}.npz")
    return load_classifier(f"{path}::{head}")
