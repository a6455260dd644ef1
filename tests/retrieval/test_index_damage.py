"""Damage is named, not hidden: truncated vectors, garbage manifests, missing files, another model or
dimension each give an error naming the cause and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiji.errors import IndexCorrupt, IndexIncompatible, IndexMissing
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import (
    CHUNKS,
    MANIFEST,
    VECTORS,
    VERSIONS,
    check_compatible,
    current_version,
    load_current,
)
from tests.helpers import build

pytestmark = pytest.mark.usefixtures("isolated_env")


# --- damage is named -------------------------------------------------------------------------------

@pytest.fixture()
def built(tmp_path: Path, corpus: Path) -> tuple[Path, Path]:
    index_dir = tmp_path / "index"
    build(corpus, index_dir)
    return index_dir, index_dir / VERSIONS / (current_version(index_dir) or "")


@pytest.mark.parametrize("cut", [0, 10, 200, "half", "minus1"])
@pytest.mark.parametrize("mmap", [False, True])
def test_truncated_vectors(built: tuple[Path, Path], cut: object, mmap: bool) -> None:
    index_dir, version = built
    data = (version / VECTORS).read_bytes()
    size = {"half": len(data) // 2, "minus1": len(data) - 1}.get(cut, cut)  # type: ignore[call-overload]
    (version / VECTORS).write_bytes(data[:size])
    with pytest.raises(IndexCorrupt) as err:
        load_current(index_dir, mmap=mmap)
    message = str(err.value)
    assert "vectors.faiss" in message and "kiji index build --full" in message
    assert "kiji index rollback" in message


def test_garbage_manifest(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    (version / MANIFEST).write_bytes(b"{not json \xff")
    with pytest.raises(IndexCorrupt, match="manifest.json .* not valid JSON") as err:
        load_current(index_dir)
    assert "kiji index build --full" in str(err.value)
    (version / MANIFEST).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(IndexIncompatible, match="unknown format"):
        load_current(index_dir)
    (version / MANIFEST).unlink()
    with pytest.raises(IndexCorrupt, match="no manifest.json"):
        load_current(index_dir)


def _edit_manifest(version: Path, **model: object) -> None:
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["model"].update(model)
    (version / MANIFEST).write_text(json.dumps(manifest))


def test_manifest_from_another_model(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    _edit_manifest(version, fingerprint="0123456789abcdef", id="other/model")
    loaded = load_current(index_dir)  # the files are fine ...
    with pytest.raises(IndexIncompatible, match="other/model") as err:  # ... but not for this model
        Engine(index=loaded, embedder=FakeEmbedder())
    assert "0123456789abcdef" in str(err.value) and "rebuild" in str(err.value)
    with pytest.raises(IndexIncompatible):
        check_compatible(loaded.manifest, fingerprint="fake-256-v1", dim=256, runtime="fake")


def test_index_of_another_dimension(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    build(corpus, index_dir, FakeEmbedder(dim=128))
    loaded = load_current(index_dir)
    with pytest.raises(IndexIncompatible, match="128-dimensional vectors but the embedding model makes 256") as err:
        Engine(index=loaded, embedder=FakeEmbedder(dim=256))
    assert "kiji index build --full" in str(err.value)
    Engine(index=loaded, embedder=FakeEmbedder(dim=128))  # the right model is fine


def test_manifest_dimension_disagrees_with_vectors(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    _edit_manifest(version, dim=384)
    with pytest.raises(IndexCorrupt, match="dimension 256, manifest says 384"):
        load_current(index_dir)


@pytest.mark.parametrize(("name", "pattern"), [
    (CHUNKS, r"chunk table \(chunks.jsonl\) is missing"),
    ("articles.jsonl", r"article table \(articles.jsonl\) is missing"),
    ("sentences.npy", "sentence vectors are missing"),
    (VECTORS, "vector file is missing"),
])
def test_missing_file(built: tuple[Path, Path], name: str, pattern: str) -> None:
    index_dir, version = built
    (version / name).unlink()
    with pytest.raises(IndexCorrupt, match=pattern) as err:
        load_current(index_dir)
    assert version.name in str(err.value) and "rollback" in str(err.value)


def test_damaged_tables(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    lines = (version / CHUNKS).read_text().splitlines()
    (version / CHUNKS).write_text("\n".join(lines[:-1]) + "\n")  # one chunk row lost
    with pytest.raises(IndexCorrupt, match=r"chunks\.jsonl.* holds \d+ chunks, manifest\.json says"):
        load_current(index_dir)
    (version / CHUNKS).write_text("\n".join(lines)[:-7])  # cut mid-row
    with pytest.raises(IndexCorrupt, match="chunks.jsonl.*damaged"):
        load_current(index_dir)
    (version / CHUNKS).write_text("\n".join(lines) + "\n")
    articles = (version / "articles.jsonl").read_text().replace("solar", "lunar")
    (version / "articles.jsonl").write_text(articles)
    with pytest.raises(IndexCorrupt, match="does not match its hash"):
        load_current(index_dir)


def test_current_names_a_missing_version(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    shutil.rmtree(version)
    with pytest.raises(IndexCorrupt, match="CURRENT names index version .* which does not exist") as err:
        load_current(index_dir)
    assert "kiji index rollback" in str(err.value)


def test_no_index_at_all(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="kiji index build"):
        load_current(tmp_path / "nothing")


def test_build_over_a_damaged_current(built: tuple[Path, Path], corpus: Path) -> None:
    index_dir, version = built
    (version / VECTORS).write_bytes(b"garbage")
    emb = FakeEmbedder()
    summary = build(corpus, index_dir, emb)
    assert summary.embedded_chunks == 0  # the embedding cache survives the damage
    assert load_current(index_dir).version == summary.version
