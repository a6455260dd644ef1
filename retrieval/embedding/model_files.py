"""What a prepared model folder holds, by name: weights, markers, ONNX exports; and its fingerprint.

    <model>/                       a sentence-transformers folder (config, tokenizer.json, weights)
      kiji_prepared.json           written last by `kiji model prepare`: source, fingerprint, checks
      onnx/model.onnx              fp32 export
      onnx/model_int8.onnx         dynamic int8 quantisation of it
      onnx/kiji_onnx.json          written last by the export: fingerprint, cosines against torch

The preparation writes these files and the embedders read them; both take the names from here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

Variant = Literal["fp32", "int8"]
#: ``token``: the graph returns token states, pooled and normalised in numpy (e5's BERT encoder);
#: ``pipeline``: the whole sentence-transformers pipeline is in the graph (pooling, Dense layers,
#: normalisation) and it returns the sentence vector.
OnnxRecipe = Literal["token", "pipeline"]

MARKER_FILE = "kiji_prepared.json"
ONNX_DIR = "onnx"
ONNX_MARKER_FILE = "kiji_onnx.json"
ONNX_FILES: dict[Variant, str] = {"fp32": "model.onnx", "int8": "model_int8.onnx"}

#: ONNX fp32 must give torch's vectors at least this closely (min cosine over mixed ja/en check
#: texts; measured 1.0): the export refuses to install below it and ``auto`` only picks ONNX above it.
ONNX_MATCH_COSINE = 0.9999

_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


class ModelPrepError(RuntimeError):
    """Raised when conversion or verification fails; the message says what to look at."""


def onnx_path(model_dir: Path, variant: Variant) -> Path:
    return model_dir / ONNX_DIR / ONNX_FILES[variant]


def weights_fingerprint(model_dir: str | Path) -> str:
    """Identify the exact weights + tokenizer so an index can tell it was built by another model."""
    model_dir = Path(model_dir)
    files = sorted({p for pat in _WEIGHT_PATTERNS for p in model_dir.glob(pat)})
    tokenizer_json = model_dir / "tokenizer.json"
    if not files or not tokenizer_json.is_file():
        raise ModelPrepError(f"{model_dir}: no weight file or tokenizer.json to fingerprint")
    digest = hashlib.sha256()
    for file in [*files, tokenizer_json]:
        digest.update(file.name.encode() + b"\0")
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def read_marker(model_dir: Path, marker: str = MARKER_FILE) -> dict[str, Any] | None:
    """Marker contents, or None when absent or unreadable (treated as 'not prepared')."""
    try:
        data = json.loads((model_dir / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
