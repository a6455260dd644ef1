"""Issue 28, item 7: NaN or infinite vectors are damage, named on load, never an "answered" reply
with no quote."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import faiss
import numpy as np
import pytest

from kiji.errors import IndexCorrupt
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import SENTENCES, VECTORS, VERSIONS, current_version, load_current
from tests.helpers import FAKE_MODEL, build_fake_index
from tests.kiji_cli import kiji

pytestmark = pytest.mark.usefixtures("isolated_env")
QUESTION = "NVIDIAは時間外取引で何%下落しましたか?"


@pytest.fixture()
def version(tmp_path: Path) -> Path:
    build_fake_index(tmp_path / "index")
    path = tmp_path / "index" / VERSIONS / (current_version(tmp_path / "index") or "")
    for file in path.iterdir():
        file.chmod(0o644)  # published read-only; these tests damage them on purpose
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("mmap", [False, True])
def test_nan_or_inf_sentence_vectors_are_refused(version: Path, value: float, mmap: bool) -> None:
    vectors = np.load(version / SENTENCES)
    vectors[3, 5] = value
    np.save(version / SENTENCES, vectors)  # the same size: only the values are wrong
    with pytest.raises(IndexCorrupt, match=r"sentences\.npy.* NaN or infinite"):
        load_current(version.parent.parent, mmap=mmap)


@pytest.mark.parametrize("mmap", [False, True])
def test_nan_in_the_faiss_file_is_refused(version: Path, mmap: bool) -> None:
    index = faiss.read_index(str(version / VECTORS))
    rows = index.reconstruct_n(0, index.ntotal)
    rows[7, :] = np.nan
    index.reset()
    index.add(rows)
    faiss.write_index(index, str(version / VECTORS))
    with pytest.raises(IndexCorrupt, match=r"vectors\.faiss.* NaN or infinite"):
        load_current(version.parent.parent, mmap=mmap)


def test_the_cli_says_index_damaged_exit_3(version: Path, tmp_path: Path) -> None:
    vectors = np.load(version / SENTENCES)
    vectors[:] = np.nan
    np.save(version / SENTENCES, vectors)
    run = kiji("ask", QUESTION, "--index-dir", str(version.parent.parent))
    assert run.code == 3 and "NaN or infinite" in run.err, (run.code, run.err)  # main: 0, answered, no quotes


def test_an_answer_with_no_quote_to_show_is_not_answered(version: Path) -> None:
    loaded = load_current(version.parent.parent)
    good = Engine(index=loaded, embedder=FakeEmbedder(), model=FAKE_MODEL).ask(QUESTION)
    assert good.answered and good.quotes
    broken = dataclasses.replace(loaded, sentence_vectors=np.full_like(loaded.sentence_vectors, np.nan))
    result = Engine(index=broken, embedder=FakeEmbedder(), model=FAKE_MODEL).ask(QUESTION)
    assert result.quotes or not result.answered, result.decision
