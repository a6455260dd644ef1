"""Which embedding runtime `auto` picks, and the refusal to mix runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiji.errors import IndexIncompatible, ModelError
from kiji.retrieval.embedding.embedder import resolve_runtime
from kiji.retrieval.index.store import check_compatible
from kiji.runtime import embedder_config, load_embedder
from kiji.settings import Settings


def _model_dir(tmp_path: Path, cosine: float | None) -> Path:
    model = tmp_path / "model"
    (model / "onnx").mkdir(parents=True)
    if cosine is not None:
        (model / "onnx" / "model.onnx").write_bytes(b"onnx")
        (model / "onnx" / "kiji_onnx.json").write_text(json.dumps({"fp32_min_cosine": cosine}))
    return model


def _runtime(**values: str) -> str:
    return resolve_runtime(embedder_config(Settings(**values)))  # type: ignore[arg-type]


def test_auto_prefers_onnx_only_when_it_matched_torch(tmp_path: Path) -> None:
    assert _runtime(embedding_model=str(_model_dir(tmp_path / "a", 1.0))) == "onnx"
    assert _runtime(embedding_model=str(_model_dir(tmp_path / "b", 0.999))) == "torch"
    assert _runtime(embedding_model=str(_model_dir(tmp_path / "c", None))) == "torch"
    # a model id (not a folder) can only run on torch
    assert _runtime(embedding_model="intfloat/multilingual-e5-small") == "torch"


def test_explicit_runtime_wins(tmp_path: Path) -> None:
    model = _model_dir(tmp_path, 1.0)
    assert _runtime(embedding_model=str(model), embedding_runtime="torch") == "torch"
    assert _runtime(embedding_model=str(model), embedding_runtime="onnx-int8") == "onnx-int8"


def test_missing_int8_export_is_a_clear_model_error(tmp_path: Path) -> None:
    model = _model_dir(tmp_path, 1.0)
    with pytest.raises(ModelError, match="kiji model prepare"):
        load_embedder(Settings(embedding_model=str(model), embedding_runtime="onnx-int8"))


def test_invalid_runtime_setting_fails_fast() -> None:
    with pytest.raises(ValueError):
        Settings(embedding_runtime="cuda")


MANIFEST = {"model": {"id": "m", "fingerprint": "abc", "runtime": "onnx", "dim": 384}}


def test_same_fingerprint_is_compatible_across_torch_and_onnx() -> None:
    check_compatible(MANIFEST, fingerprint="abc", dim=384, runtime="torch")


def test_int8_or_other_model_or_dimension_is_refused() -> None:
    with pytest.raises(IndexIncompatible, match="runtime onnx"):
        check_compatible(MANIFEST, fingerprint="abc-int8", dim=384, runtime="onnx-int8")
    with pytest.raises(IndexIncompatible, match="dimension|384"):
        check_compatible(MANIFEST, fingerprint="abc", dim=768, runtime="torch")
