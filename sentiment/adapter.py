"""LoRA adapters for the sentence encoder: small low-rank weight updates shipped as ``.npz``.

Why: the bundled encoder was trained for retrieval, not sentiment; a logistic head on its frozen
embeddings misses terse verdicts, relief idioms and "problem solved" reviews. A LoRA adapter
(Hu et al. 2021) adds ``scale * B @ A`` (rank ``r``) to a few attention/FFN weight matrices and is
trained together with a linear head on the labelled reviews. It ships as a few hundred kilobytes
of plain arrays (``allow_pickle=False``), and at load time it is merged into the converted base
model, so inference (PyTorch or the ONNX export of the merged model) costs exactly the same as
before. The adapter digest becomes part of the encoder revision, so the classifier version
changes whenever the adapter does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

ADAPTER_FILE = Path(__file__).with_name("data") / "adapter.npz"


class LoRALinear(nn.Module):
    """``base(x) + scale * (x @ A.T) @ B.T``; ``B`` starts at zero so training starts at base."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, generator: torch.Generator):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.a = nn.Parameter(torch.randn(rank, base.in_features, generator=generator) / rank)
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale

    def delta(self) -> torch.Tensor:
        """The weight update [out, in] this adapter adds to ``base.weight``."""
        return (self.b @ self.a) * self.scale


@dataclass(frozen=True)
class Adapter:
    """Named weight deltas in factored form: W[name] += scale * B @ A."""

    a: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    scale: float
    meta: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """Changes whenever any adapter weight changes: part of the encoder revision."""
        h = hashlib.sha256(f"{self.scale:.6g}".encode())
        for name in sorted(self.a):
            h.update(name.encode())
            h.update(self.a[name].astype(np.float32).tobytes())
            h.update(self.b[name].astype(np.float32).tobytes())
        return h.hexdigest()[:10]


def attach(
    model: nn.Module, targets: list[str], rank: int = 8, alpha: float = 16.0, seed: int = 0
) -> dict[str, LoRALinear]:
    """Replace the named ``nn.Linear`` submodules with LoRA wrappers; return them by name."""
    gen = torch.Generator().manual_seed(seed)
    wrapped = {}
    for name in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, attr)
        if not isinstance(base, nn.Linear):
            raise TypeError(f"{name} is not nn.Linear")
        lora = LoRALinear(base, rank, alpha, gen)
        setattr(parent, attr, lora)
        wrapped[name] = lora
    return wrapped


def extract(wrapped: dict[str, LoRALinear], meta: dict | None = None) -> Adapter:
    """Trained wrappers -> an Adapter of plain float32 arrays."""
    scales = {w.scale for w in wrapped.values()}
    if len(scales) != 1:
        raise ValueError("all LoRA layers must share one scale")
    return Adapter(
        {n: w.a.detach().float().numpy().copy() for n, w in wrapped.items()},
        {n: w.b.detach().float().numpy().copy() for n, w in wrapped.items()},
        scales.pop(),
        dict(meta or {}),
    )


def merge(model: nn.Module, adapter: Adapter, sign: float = 1.0) -> nn.Module:
    """Add the adapter's deltas to ``model``'s weights in place; ``sign=-1`` takes them out."""
    with torch.no_grad():
        for name in adapter.a:
            layer = model.get_submodule(name)
            a = torch.from_numpy(adapter.a[name]).to(layer.weight.dtype)
            b = torch.from_numpy(adapter.b[name]).to(layer.weight.dtype)
            if layer.weight.shape != (b.shape[0], a.shape[1]):
                raise ValueError(f"adapter shape mismatch at {name}")
            layer.weight += (b @ a) * (adapter.scale * sign)
    return model


def save_adapter(adapter: Adapter, path: Path) -> Path:
    """Write atomically as float32 ``.npz`` (no pickle): ``a/<name>``, ``b/<name>``, meta."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"a/{n}": v.astype(np.float32) for n, v in adapter.a.items()}
    arrays.update({f"b/{n}": v.astype(np.float32) for n, v in adapter.b.items()})
    meta = dict(adapter.meta, scale=adapter.scale)
    arrays["meta"] = np.array(json.dumps(meta, ensure_ascii=False))
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


def load_adapter(path: Path) -> Adapter:
    """Read an adapter written by :func:`save_adapter`; never unpickles."""
    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        a = {k[2:]: data[k].astype(np.float32) for k in data.files if k.startswith("a/")}
        b = {k[2:]: data[k].astype(np.float32) for k in data.files if k.startswith("b/")}
    if set(a) != set(b):
        raise ValueError(f"{path}: unpaired adapter matrices")
    return Adapter(a, b, float(meta.pop("scale")), meta)
