"""Text → vector. One protocol, three implementations behind it.

- ``SentenceTransformerEmbedder``: any sentence-transformers model id or path, torch on the CPU.
- ``OnnxEmbedder``: the prepared default model exported to ONNX (fp32 or int8), run with onnxruntime
  directly; the fast path for queries and builds.
- ``FakeEmbedder`` (``fake.py``): deterministic hashed character n-grams, for unit tests that must
  be fast and must not need model weights.

Vectors are float32 and L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from kiji.errors import ModelError
from kiji.retrieval.embedding.model_files import (
    ONNX_DIR,
    ONNX_MARKER_FILE,
    ONNX_MATCH_COSINE,
    Variant,
    onnx_path,
    read_marker,
    weights_fingerprint,
)

Progress = Callable[[int], None]
#: How vectors are computed (``KIJI_EMBEDDING_RUNTIME``); ``auto`` picks ONNX when it matched torch.
Runtime = Literal["auto", "torch", "onnx", "onnx-int8"]


@dataclass(frozen=True, slots=True)
class EmbedderConfig:
    """Which model to load and how; plain values (kiji.runtime fills them from the settings)."""

    #: A local model folder or a sentence-transformers model id.
    model: str
    runtime: Runtime = "auto"
    threads: int = 1
    #: ``model`` is a folder that ``kiji model prepare`` creates.
    prepared_default: bool = False
    #: Tokens kept of one input by the ONNX runtime (sentence-transformers keeps its own setting).
    max_length: int = 512
    #: The passage prompt for a passage with a title, ``{title}`` standing for it (the model spec's
    #: ``titled_passage_prompt``); ``None``: titles are not part of the model's input.
    titled_passage_prompt: str | None = None


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    #: Changes whenever the weights (or the runtime that changes the vectors) change.
    fingerprint: str
    runtime: str
    dim: int
    @property
    def uses_titles(self) -> bool:
        """``embed_passages``' ``titles`` change the vectors (the model has a titled passage prompt)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], *, titles: Sequence[str] | None = None,
                       batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        """``titles``: one per text, ``""`` for none; read only where ``uses_titles``."""
        ...


def passage_titles(texts: Sequence[str], titles: Sequence[str] | None) -> Sequence[str]:
    """``embed_passages``' titles, one per text (``""`` for none where none were given)."""
    if titles is None:
        return [""] * len(texts)
    if len(titles) != len(texts):
        raise ValueError(f"{len(titles)} titles for {len(texts)} passages")
    return titles


def _length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Batches of similar length waste less padding; order is restored by the caller."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class _BatchedEmbedder:
    """Shared batching and prompt handling; subclasses implement ``_encode(texts)``."""

    query_prompt = ""
    passage_prompt = ""
    titled_passage_prompt: str | None = None
    dim: int

    @property
    def uses_titles(self) -> bool:
        return self.titled_passage_prompt is not None

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prompt + t for t in texts])

    def _passage_prompt(self, title: str) -> str:
        if title and self.titled_passage_prompt is not None:
            return self.titled_passage_prompt.replace("{title}", " ".join(title.split()))
        return self.passage_prompt

    def embed_passages(self, texts: Sequence[str], *, titles: Sequence[str] | None = None,
                       batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        titles = passage_titles(texts, titles)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for batch in _length_sorted_batches(texts, batch_size):
            out[batch] = self._encode([self._passage_prompt(titles[i]) + texts[i] for i in batch])
            if progress:
                progress(len(batch))
        return out


def _stored_prompts(model_dir: Path) -> dict[str, str]:
    config = model_dir / "config_sentence_transformers.json"
    if config.is_file():
        return dict(json.loads(config.read_text(encoding="utf-8")).get("prompts") or {})
    return {}


class SentenceTransformerEmbedder(_BatchedEmbedder):
    runtime = "torch"

    def __init__(self, model_name: str, *, threads: int = 1, prepared_default: bool = False) -> None:
        import torch

        torch.set_num_threads(threads)
        from sentence_transformers import SentenceTransformer

        try:
            # str(): sentence-transformers rejects pathlib.Path model names.
            self.model = SentenceTransformer(str(model_name), device="cpu",
                                             model_kwargs={"dtype": torch.float32})
        except Exception as exc:  # network, missing files, bad config: all mean "cannot load"
            raise ModelError(f"cannot load embedding model {model_name!r}: {type(exc).__name__}",
                             hint=_model_hint(prepared_default)) from None
        self.model.float()
        self.model_id = str(model_name)
        dim_of = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        prompts = self.model.prompts or {}
        self.query_prompt = prompts.get("query") or ""
        self.passage_prompt = prompts.get("passage") or prompts.get("document") or ""
        path = Path(model_name)
        self.fingerprint = weights_fingerprint(path) if path.is_dir() else f"hub:{model_name}"
        # torch is not thread-safe for concurrent forward passes on one module in every version;
        # a lock keeps API threads from interleaving while still running off the event loop.
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode(texts, batch_size=max(1, len(texts)),
                                        convert_to_numpy=True, normalize_embeddings=True,
                                        show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


class OnnxEmbedder(_BatchedEmbedder):
    def __init__(self, model_dir: Path, *, variant: Variant, threads: int = 1, max_length: int = 512) -> None:
        from kiji.retrieval.embedding.onnx_encoder import OnnxEncoder

        try:
            self.encoder = OnnxEncoder(model_dir, variant=variant, threads=threads, max_length=max_length)
        except Exception as exc:
            raise ModelError(f"cannot load ONNX model from {model_dir}: {exc}",
                             hint="run `kiji model prepare`") from None
        self.runtime = "onnx" if variant == "fp32" else "onnx-int8"
        self.model_id = str(model_dir)
        self.dim = int(self.encoder.dim)
        prompts = _stored_prompts(model_dir)
        self.query_prompt = prompts.get("query", "")
        # e5 stores "passage"; sentence-transformers 5+ folders (EmbeddingGemma) call it "document".
        self.passage_prompt = prompts.get("passage") or prompts.get("document") or ""
        base = weights_fingerprint(model_dir)
        # fp32 ONNX gives torch's vectors; int8 does not, so it gets its own fingerprint.
        self.fingerprint = base if variant == "fp32" else f"{base}-int8"

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts, batch_size=max(1, len(texts)))


def _model_hint(prepared_default: bool) -> str:
    if prepared_default:
        return "run `kiji model prepare` to create the offline default model"
    return "check KIJI_EMBEDDING_MODEL; a model id needs network access to the model hub"


def resolve_runtime(config: EmbedderConfig) -> str:
    """``auto``: ONNX when the prepared export exists and its check run at prepare time found the
    same vectors as torch (it is ~2-3x faster per query); otherwise torch. The export's marker says
    which variant ``auto`` means: fp32 for e5-small (its int8 changes the vectors more than its
    speed is worth), int8 for EmbeddingGemma (cosine 0.9987 to fp32, 41 vs 66 ms a query, ~1.1 vs ~2.6 GB;
    README "Embedding models")."""
    if config.runtime != "auto":
        return config.runtime
    model_dir = Path(config.model)
    marker = read_marker(model_dir / ONNX_DIR, ONNX_MARKER_FILE) if model_dir.is_dir() else None
    if not marker or float(marker.get("fp32_min_cosine", 0.0)) < ONNX_MATCH_COSINE:
        return "torch"
    if marker.get("auto") == "int8" and onnx_path(model_dir, "int8").is_file():
        return "onnx-int8"
    return "onnx" if onnx_path(model_dir, "fp32").is_file() else "torch"


def load_embedder(config: EmbedderConfig) -> Embedder:
    embedder = _load(config)
    embedder.titled_passage_prompt = config.titled_passage_prompt
    return embedder


def _load(config: EmbedderConfig) -> SentenceTransformerEmbedder | OnnxEmbedder:
    runtime = resolve_runtime(config)
    model_dir = Path(config.model)
    if runtime == "torch":
        if config.prepared_default and not model_dir.is_dir():
            raise ModelError("the default embedding model is not prepared",
                             hint="run `kiji model prepare`")
        return SentenceTransformerEmbedder(config.model, threads=config.threads,
                                           prepared_default=config.prepared_default)
    variant: Variant = "fp32" if runtime == "onnx" else "int8"
    if not onnx_path(model_dir, variant).is_file():
        raise ModelError(f"no ONNX export ({variant}) for {config.model}",
                         hint="run `kiji model prepare` (ONNX runtimes need a local model folder)")
    return OnnxEmbedder(model_dir, variant=variant, threads=config.threads, max_length=config.max_length)
