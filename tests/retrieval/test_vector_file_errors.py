"""Issue 12, case 7: a vector file FAISS cannot read is named with its cause in words, not with a
path from inside FAISS's build cut mid-way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiji.errors import IndexCorrupt
from kiji.retrieval.index.vector_index import FaissIndex


@pytest.fixture()
def vector_file(tmp_path: Path) -> Path:
    path = tmp_path / "v1" / "vectors.faiss"
    path.parent.mkdir()
    rng = np.random.default_rng(0)
    FaissIndex.build(rng.standard_normal((40, 16)).astype(np.float32)).save(path)
    return path


@pytest.mark.parametrize(("damage", "cause"), [
    (lambda data: b"", "the file is empty"),
    (lambda data: data[:10], "truncated"),
    (lambda data: data[: len(data) // 2], "truncated"),
    (lambda data: data[:-1], "truncated"),
    (lambda data: b"\x0eAJ\xd9" + data[4:], "not a FAISS index"),
    (lambda data: b"[]", "not a FAISS index"),
])
@pytest.mark.parametrize("mmap", [False, True])
def test_the_cause_is_named_in_words(vector_file: Path, damage: object, cause: str, mmap: bool) -> None:
    vector_file.write_bytes(damage(vector_file.read_bytes()))  # type: ignore[operator]
    with pytest.raises(IndexCorrupt) as err:
        FaissIndex.load(vector_file, mmap=mmap)
    message = str(err.value)
    assert message.startswith("cannot read the vector index v1/vectors.faiss: ") and cause in message
    assert f"{vector_file.stat().st_size} bytes" in message or cause == "the file is empty"
    for leak in ("/project/", ".cpp", "faiss::", "Error in", "read_index"):
        assert leak not in message, message
