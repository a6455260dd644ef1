"""Crash safety under SIGKILL: a build in a child process (a small script written next to the corpus)
kills itself at a chosen point, or the test kills it from outside while it is embedding; no
test-only hook in production code is needed, the script monkeypatches the step it dies in. After
every kill, CURRENT still names a complete version and the next build recovers."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiji import cli
from kiji.cli import resources
from kiji.errors import BuildLocked
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.store import (
    CURRENT,
    current_version,
    list_versions,
    load_current,
)
from tests.helpers import SHIPPED, TOPICS, article_text, build, leftovers, write_corpus

pytestmark = pytest.mark.usefixtures("isolated_env")


# --- crash safety (SIGKILL) ------------------------------------------------------------------------

CRASH_SCRIPT = r'''
import os, signal, sys, time
from pathlib import Path

import kiji.durable as durable
import kiji.retrieval.index.build as build
import kiji.retrieval.index.store as store
from kiji.corpus.chunker import ChunkParams
from kiji.retrieval.embedding.fake import FakeEmbedder

corpus, index_dir, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Embedder(FakeEmbedder):
    def embed_passages(self, texts, *, titles=None, batch_size=16, progress=None):
        def tick(n):
            if point == "embed":                # after the first batch, before the cache write
                die()
            if point == "embed-wait":           # the test kills us from outside
                print("EMBEDDING", flush=True)
                time.sleep(60)
            if point == "slow":
                time.sleep(0.01)
        return super().embed_passages(texts, titles=titles, batch_size=batch_size, progress=tick)


real_write = store.write_text_durable
if point == "write":                            # vectors and tables written, manifest not
    def write(path, text):
        if path.name == store.MANIFEST:
            die()
        real_write(path, text)
    store.write_text_durable = write
elif point == "validate":                       # complete tmp-<v>, not yet renamed
    build._validate = lambda *a, **k: die()
elif point == "publish":                        # .CURRENT.tmp written, not yet renamed to CURRENT
    def write(path, text):
        real_write(path, text)
        if path.name == ".CURRENT.tmp":
            die()
    durable.write_text_durable = write          # replace_text_durable's own write
elif point == "prune":                          # published, old versions not yet pruned
    build.prune_versions = lambda *a, **k: die()

summary = build.build_index(
    corpus_paths=[corpus], index_dir=index_dir, embedder=Embedder(), params=ChunkParams(),
    batch_size=2, keep_versions=2,
    _before_publish=(lambda p: die()) if point == "rename" else None)
print("DONE", summary.version, flush=True)
'''


def _child(tmp_path: Path, corpus: Path, index_dir: Path, point: str) -> subprocess.Popen[str]:
    script = tmp_path / "crash_build.py"
    script.write_text(CRASH_SCRIPT, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), str(corpus), str(index_dir), point],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _prepare_crash(tmp_path: Path) -> tuple[Path, Path, str]:
    corpus = write_corpus(tmp_path / "corpus", shipped=1, synthetic=4)
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    # Give the next build real work: one changed and one new article.
    (corpus / "syn0.txt").write_text(article_text("Solar panels, revised", TOPICS[0][1][::-1]),
                                     encoding="utf-8")
    shutil.copy(SHIPPED[1], corpus / SHIPPED[1].name)
    return corpus, index_dir, v1


def _assert_recovers(corpus: Path, index_dir: Path, served: str) -> None:
    loaded = load_current(index_dir)
    assert loaded.version == served
    _, ids = loaded.vectors.search(loaded.vectors.reconstruct(0)[None, :], 1)
    assert ids[0][0] == 0
    summary = build(corpus, index_dir)  # the lock was released by the kernel; leftovers go
    assert not leftovers(index_dir)
    assert load_current(index_dir).version == summary.version == current_version(index_dir)
    assert summary.articles == 6


@pytest.mark.parametrize("point", ["embed", "write", "validate", "rename", "publish", "prune"])
def test_sigkill_at_each_step_leaves_current_intact(tmp_path: Path, point: str) -> None:
    corpus, index_dir, v1 = _prepare_crash(tmp_path)
    child = _child(tmp_path, corpus, index_dir, point)
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert "DONE" not in out
    versions = list_versions(index_dir)
    if point == "prune":
        # CURRENT had already been switched: the new version is served, complete.
        assert current_version(index_dir) != v1 and len(versions) == 2
        _assert_recovers(corpus, index_dir, current_version(index_dir) or "")
        return
    if point in ("write", "validate"):
        assert len(leftovers(index_dir)) == 1  # a tmp-<v> folder, never listed as a version
    if point == "publish":
        assert leftovers(index_dir) == [f".{CURRENT}.tmp"]
    if point in ("rename", "publish"):
        assert len(versions) == 2  # complete and validated, but CURRENT was never switched to it
    else:
        assert versions == [v1]
    _assert_recovers(corpus, index_dir, v1)


def test_external_sigkill_during_embedding_and_lock_across_processes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus, index_dir, v1 = _prepare_crash(tmp_path)
    child = _child(tmp_path, corpus, index_dir, "embed-wait")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "EMBEDDING"
        # The child holds the lock: a second build (library and CLI) refuses clearly.
        with pytest.raises(BuildLocked, match="another index build is running"):
            build(corpus, index_dir)
        monkeypatch.setattr(resources, "embedder", lambda settings: FakeEmbedder())
        capsys.readouterr()
        assert cli.main(["index", "build", "--corpus", str(corpus), "--index-dir", str(index_dir)]) == 5
        assert "another index build is running" in capsys.readouterr().err
        assert load_current(index_dir).version == v1
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    _assert_recovers(corpus, index_dir, v1)


def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    """Kill a whole build from outside at arbitrary moments: the index is always one whole version."""
    corpus, index_dir, v1 = _prepare_crash(tmp_path)
    rng = random.Random(6)
    served = {v1}
    for _ in range(3):
        child = _child(tmp_path, corpus, index_dir, "slow")
        time.sleep(rng.uniform(0.3, 1.5))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        loaded = load_current(index_dir)  # never damaged, whatever the moment
        if "DONE" in out:
            served.add(out.split()[1])
        # Either the old version or the child's new one, and only if the child got that far.
        assert loaded.version in served or (child.returncode == -signal.SIGKILL
                                            and loaded.version in list_versions(index_dir))
        assert all(not v.startswith("tmp-") for v in list_versions(index_dir))
        served.add(loaded.version)
    _assert_recovers(corpus, index_dir, load_current(index_dir).version)
