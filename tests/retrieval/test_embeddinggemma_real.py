"""EmbeddingGemma-300M as prepared by setup (``kiji model prepare embeddinggemma-300m``): the ONNX
runtimes against sentence-transformers, the prompts, and a cross-lingual pair. A few seconds: the
model loads once; nothing is exported here (setup did, and checked it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiji.retrieval.embedding.embedder import EmbedderConfig, OnnxEmbedder, load_embedder, resolve_runtime
from kiji.retrieval.embedding.model_files import MARKER_FILE, ONNX_DIR, ONNX_MARKER_FILE, read_marker
from kiji.retrieval.embedding.models import embeddinggemma
from kiji.retrieval.embedding.models.spec import PrepareOptions, prepare_with_onnx
from kiji.settings import Settings

pytestmark = pytest.mark.model

SPEC = embeddinggemma.SPEC


@pytest.fixture(scope="module")
def gemma_dir() -> Path:
    return prepare_with_onnx(SPEC, Settings().prepared_dir(SPEC), PrepareOptions(log=lambda _: None))


def test_prepared_folder_is_verified_and_carries_the_licence(gemma_dir: Path) -> None:
    marker = read_marker(gemma_dir)
    assert marker is not None and marker["model"] == SPEC.name and marker["verified_files"] == 17
    assert "Gemma Terms of Use" in (gemma_dir / embeddinggemma.NOTICE_FILE).read_text(encoding="utf-8")
    assert (gemma_dir / MARKER_FILE).is_file()


def test_auto_serves_the_checked_int8_export(gemma_dir: Path) -> None:
    onnx = read_marker(gemma_dir / ONNX_DIR, ONNX_MARKER_FILE)
    assert onnx is not None and onnx["fp32_min_cosine"] >= 0.9999 and onnx["int8_min_cosine"] >= 0.998
    assert resolve_runtime(EmbedderConfig(model=str(gemma_dir))) == "onnx-int8"


def test_an_english_question_finds_the_japanese_answer(gemma_dir: Path) -> None:
    embedder = load_embedder(EmbedderConfig(model=str(gemma_dir), max_length=SPEC.max_seq_length))
    assert embedder.dim == 768 and embedder.runtime == "onnx-int8"
    q = embedder.embed_queries(["How many employees does DeepSeek have?"])
    p = embedder.embed_passages(["ディープシークの従業員数は200人だ。", "箱根の温泉旅館でゆっくり休んだ。",
                                 "エヌビディアの株価は17%下落した。"])
    scores = (p @ q[0]).tolist()
    assert scores[0] > max(scores[1:]) + 0.1
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)


def test_int8_and_fp32_agree_and_prompts_come_from_the_folder(gemma_dir: Path) -> None:
    fp32 = OnnxEmbedder(gemma_dir, variant="fp32", max_length=SPEC.max_seq_length)
    int8 = OnnxEmbedder(gemma_dir, variant="int8", max_length=SPEC.max_seq_length)
    assert fp32.query_prompt == SPEC.query_prompt and fp32.passage_prompt == SPEC.passage_prompt
    texts = ["NVIDIAの株価は何%下がった?", "Stargate is a $500 billion AI infrastructure venture."]
    a, b = fp32.embed_passages(texts), int8.embed_passages(texts)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.995
    assert fp32.fingerprint != int8.fingerprint  # so an index built with one refuses the other
