"""Shared fixtures: a fast engine on the fake embedder, and the real model path.

The fake engine indexes the shipped corpus with ``FakeEmbedder`` (hashed n-grams) in a temporary
folder, so unit tests exercise the real chunker, FAISS index, BM25 and answer code in well under a
second. ``real_engine`` uses the prepared default model; setup prepares it before tests run
(EmbeddingGemma's are in tests/retrieval/test_embeddinggemma_real.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiji.corpus.chunker import ChunkParams
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.embedding.models import registry
from kiji.retrieval.embedding.models.spec import ModelSpec, PrepareOptions, prepare_with_onnx
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.build import build_index
from kiji.retrieval.index.store import load_current
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from kiji.settings import Settings
from tests.fake_llm import FakeLLM, ThreadedLLM
from tests.generation_cases import Q_EN
from tests.generation_cases import build_engine as build_generation_engine
from tests.helpers import FAKE_MODEL, build_fake_index, write_corpus


@pytest.fixture(scope="session")
def tok() -> JapaneseTokenizer:
    """One Sudachi tokenizer for the lexical tests (thread-safe, read-only dictionary)."""
    return JapaneseTokenizer()


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fake-index")
    build_fake_index(path)
    return path


@pytest.fixture(scope="session")
def fake_engine(fake_index_dir: Path) -> Engine:
    return Engine(index=load_current(fake_index_dir), embedder=FakeEmbedder(), model=FAKE_MODEL)


@pytest.fixture()
def fake_settings(fake_index_dir: Path, tmp_path: Path) -> Settings:
    return Settings(index_dir=fake_index_dir, feedback_db=tmp_path / "feedback.sqlite3",
                    embedding_runtime="torch", rate_limit_per_minute=0)


def _model_dir(spec: ModelSpec) -> Path:
    return Path(os.environ.get("KIJI_MODEL_DIR", str(Settings().prepared_dir(spec))))


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    """The default model, prepared and exported; setup does both, so this only checks them."""
    spec = registry.MODELS[registry.DEFAULT]
    return prepare_with_onnx(spec, _model_dir(spec), PrepareOptions(log=lambda _: None))


@pytest.fixture(scope="session")
def real_settings(real_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(embedding_model=str(real_model_dir),
                    index_dir=tmp_path_factory.mktemp("real-index"))


@pytest.fixture(scope="session")
def real_engine(real_settings: Settings) -> Iterator[Engine]:
    """The default runtime on the real model over the shipped corpus (built once per session)."""
    from kiji.runtime import load_embedder

    embedder = load_embedder(real_settings)
    build_index(corpus_paths=[SHIPPED_CORPUS_DIR], index_dir=real_settings.index_dir,
                embedder=embedder, params=ChunkParams())
    yield Engine(index=load_current(real_settings.index_dir), embedder=embedder)


@pytest.fixture()
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KIJI_* variables or .env file from the developer's shell leak into the CLI's settings."""
    for name in list(os.environ):
        if name.startswith("KIJI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """Two shipped and four synthetic articles in tmp_path."""
    return write_corpus(tmp_path / "corpus")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the test item, so fixtures can tell that a test failed (the
    browser tests save a screenshot then)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report

# --- the optional language model (tests/*/test_generation*.py) ------------------------------------

@pytest.fixture(scope="session")
def llm() -> Iterator[FakeLLM]:
    """The scripted OpenAI-compatible server, on its own thread; tests script it per case."""
    with ThreadedLLM() as server:
        yield server


@pytest.fixture(scope="session")
def generation_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The shipped corpus plus an article carrying a prompt injection, on the fake embedder."""
    engine = build_generation_engine(tmp_path_factory.mktemp("generation"))
    engine.ask(Q_EN)  # lazy tables load here, not inside a timed test
    return engine
