"""Shared fixtures: a fast engine on the fake embedder, and the real model path.

The fake engine indexes the shipped corpus with ``FakeEmbedder`` (hashed n-grams) in a temporary
folder, so unit tests exercise the real chunker, FAISS index, BM25 and answer code in well under a
second. ``real_engine`` uses the prepared multilingual-e5-small; setup prepares it before tests run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.chunker import ChunkParams
from kiji.settings import DEFAULT_CORPUS_DIR, DEFAULT_MODEL_DIR, Settings
from retrieval.answer import Tuning
from retrieval.build import build_index
from retrieval.embedder import FakeEmbedder
from retrieval.engine import Engine
from retrieval.store import load_current

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"


def build_fake_index(index_dir: Path, corpus: Path = DEFAULT_CORPUS_DIR,
                     embedder: FakeEmbedder | None = None) -> FakeEmbedder:
    embedder = embedder or FakeEmbedder()
    build_index(corpus_paths=[corpus], index_dir=index_dir, embedder=embedder, params=ChunkParams())
    return embedder


def small_corpus(tmp_path: Path, name: str, count: int) -> Path:
    """A corpus folder with the first ``count`` shipped articles (small, so builds are quick)."""
    folder = tmp_path / name
    folder.mkdir()
    for source in sorted(DEFAULT_CORPUS_DIR.iterdir())[:count]:
        shutil.copy(source, folder / source.name)
    return folder


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fake-index")
    build_fake_index(path)
    return path


#: The fake embedder's cosines live far below a real model's, so it gets its own threshold.
FAKE_TUNING = Tuning(min_dense=0.12, missing_term_dense=0.6)


@pytest.fixture(scope="session")
def fake_engine(fake_index_dir: Path) -> Engine:
    return Engine(index=load_current(fake_index_dir), embedder=FakeEmbedder(), tuning=FAKE_TUNING)


@pytest.fixture()
def fake_settings(fake_index_dir: Path, tmp_path: Path) -> Settings:
    return Settings(index_dir=fake_index_dir, feedback_db=tmp_path / "feedback.sqlite3",
                    embedding_runtime="torch", rate_limit_per_minute=0)


def _model_dir() -> Path:
    return Path(os.environ.get("KIJI_MODEL_DIR", str(DEFAULT_MODEL_DIR)))


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    from retrieval.model_prep import export_onnx, prepare_default_model

    path = prepare_default_model(_model_dir(), log=lambda _: None)
    export_onnx(path, log=lambda _: None)
    return path


@pytest.fixture(scope="session")
def real_settings(real_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(embedding_model=str(real_model_dir),
                    index_dir=tmp_path_factory.mktemp("real-index"))


@pytest.fixture(scope="session")
def real_engine(real_settings: Settings) -> Iterator[Engine]:
    """The default runtime on the real model over the shipped corpus (built once per session)."""
    from retrieval.embedder import load_embedder

    embedder = load_embedder(real_settings)
    build_index(corpus_paths=[DEFAULT_CORPUS_DIR], index_dir=real_settings.index_dir,
                embedder=embedder, params=ChunkParams())
    yield Engine(index=load_current(real_settings.index_dir), embedder=embedder)
