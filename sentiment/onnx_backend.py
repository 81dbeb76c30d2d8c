"""Optional ONNX Runtime back end for the sentence encoder: same embeddings, faster on CPU.

Why: on the project's 2-core AVX2 CPU boxes ONNX Runtime ran multilingual-e5-small about
1.2-2.3x faster than PyTorch eager (noisy, shared cores) at identical output (cosine 0.9999999);
on an AVX-512 CPU the two were level. It is the fp32 path only: where the CPU has AMX, bf16 on
PyTorch is 2.7x faster still (``sentiment.encoder.resolve_precision``). int8 quantisation was
measured too and rejected: cosine to the fp32 model fell to 0.97 (torch dynamic) / 0.98 (ONNX
Runtime), and with torch int8 held-out accuracy dropped ~5 points.

The export (``onnx`` package needed, once) writes ``encoder.onnx`` next to the model in the
cache, through a temporary file and a rename so a crash never leaves a broken file behind.
When ``onnx`` or ``onnxruntime`` is missing, callers fall back to PyTorch.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ONNX_NAME = "encoder.onnx"
ADAPTER_GLOB = "encoder-lora-*.onnx"

logger = logging.getLogger(__name__)


def available() -> bool:
    """True when both the exporter's dependency and the runtime are importable."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _MeanPooled(torch.nn.Module):
    """Wraps a transformers encoder so the exported graph returns mean-pooled states."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def export(model: torch.nn.Module, dest: Path) -> Path:
    """Export ``model`` (mean pooling included) to ``dest`` atomically; return ``dest``."""
    dest = Path(dest)
    ids = torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _MeanPooled(model).eval(),
                (ids, mask),
                tmp,
                input_names=["input_ids", "attention_mask"],
                output_names=["pooled"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "seq"},
                    "attention_mask": {0: "batch", 1: "seq"},
                    "pooled": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp files are 0600; the cache may be shared with a service
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


class OnnxForward:
    """Callable batch -> mean-pooled states, backed by an ONNX Runtime session.

    ``stub`` carries the model's config (``stub.config``) so the encoder can size windows
    without loading the PyTorch weights at all once the graph exists.
    """

    def __init__(self, path: Path, config, threads: int | None = None):
        import onnxruntime as ort

        self.stub = SimpleNamespace(config=config, eval=lambda: None)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        feed = {k: v.numpy().astype(np.int64) for k, v in batch.items()}
        return torch.from_numpy(self.session.run(None, feed)[0])

    @classmethod
    def for_model_dir(cls, model_dir: Path, adapter=None) -> OnnxForward:
        """Open ``model_dir/encoder.onnx``, exporting it from the PyTorch weights if missing.

        With a LoRA ``adapter`` (``sentiment.adapter.Adapter``) the adapter is merged into the
        weights first and the graph goes to ``encoder-lora-<digest>.onnx``, so base and adapted
        exports live side by side and a changed adapter never reuses a stale graph.
        """
        from transformers import AutoConfig, AutoModel

        path = Path(model_dir) / onnx_name(adapter)
        if not path.exists():
            model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
            if adapter is not None:
                from sentiment.adapter import merge

                merge(model, adapter)
            export(model, path)
            del model
            if adapter is not None:
                remove_stale_graphs(Path(model_dir), keep=path)
        return cls(path, AutoConfig.from_pretrained(model_dir, local_files_only=True))


def remove_stale_graphs(model_dir: Path, keep: Path) -> list[Path]:
    """Delete the adapter graphs of earlier adapters (~470 MB each); return what went.

    Called right after a new adapter's graph is exported, i.e. on the first start after an
    upgrade. A process still running the old release is unaffected: ONNX Runtime holds its graph
    in memory once the session is open, and would re-export it if started again.
    """
    removed = []
    for stale in sorted(model_dir.glob(ADAPTER_GLOB)):
        if stale.resolve() == keep.resolve():
            continue
        size_mb = stale.stat().st_size / 1e6
        stale.unlink(missing_ok=True)
        removed.append(stale)
        logger.info("removed stale ONNX graph %s (%.0f MB)", stale.name, size_mb)
    return removed


def onnx_name(adapter=None) -> str:
    """File name of the exported graph: the base one, or one per adapter digest."""
    return ONNX_NAME if adapter is None else f"encoder-lora-{adapter.digest}.onnx"
