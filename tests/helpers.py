"""Helpers shared by tests of every package: fake indexes, small corpora, the repository's paths."""

from __future__ import annotations

import shutil
from pathlib import Path

from kiji.corpus.chunker import ChunkParams
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.answer.tuning import Tuning
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.build import build_index

#: The checkout the tests run from.
REPO_ROOT = Path(__file__).resolve().parents[1]

#: The fake embedder's cosines live far below a real model's, so it gets its own threshold.
FAKE_TUNING = Tuning(min_dense=0.12, missing_term_dense=0.6)


def build_fake_index(index_dir: Path, corpus: Path = SHIPPED_CORPUS_DIR,
                     embedder: FakeEmbedder | None = None) -> FakeEmbedder:
    embedder = embedder or FakeEmbedder()
    build_index(corpus_paths=[corpus], index_dir=index_dir, embedder=embedder, params=ChunkParams())
    return embedder


def small_corpus(tmp_path: Path, name: str, count: int) -> Path:
    """A corpus folder with the first ``count`` shipped articles (small, so builds are quick)."""
    folder = tmp_path / name
    folder.mkdir()
    for source in sorted(SHIPPED_CORPUS_DIR.iterdir())[:count]:
        shutil.copy(source, folder / source.name)
    return folder
