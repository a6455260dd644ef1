"""Helpers for the Ray build tests: a local multi-node cluster, embedder factories that fail on
purpose (Ray workers import them from here), and the comparison of two published versions."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kiji.retrieval.embedding.embedder import Progress
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.store import LoadedIndex

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Object store of each test node: the builds stream blocks of a few hundred passages.
NODE_STORE_BYTES = 80 * 1024 * 1024


@contextmanager
def local_cluster(worker_nodes: int = 1) -> Iterator[str]:
    """A Ray head plus ``worker_nodes`` worker nodes, each its own raylet process with one CPU;
    yields the address a build connects to. This process does not join it."""
    from ray.cluster_utils import Cluster

    # Workers unpickle the test factories below: they need the checkout on their path, and inherit
    # the environment of the raylets started here.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), saved]))
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "object_store_memory": NODE_STORE_BYTES})
    try:
        for _ in range(worker_nodes):
            cluster.add_node(num_cpus=1, object_store_memory=NODE_STORE_BYTES)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


class CrashOnce:
    """Builds a FakeEmbedder whose first ``embed_passages`` call in the whole cluster kills its
    worker process (the marker file is shared: one crash, then normal work)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __call__(self) -> FakeEmbedder:
        return _Crashing(self.marker, always=False)


class CrashAlways(CrashOnce):
    def __call__(self) -> FakeEmbedder:
        return _Crashing(self.marker, always=True)


class _Crashing(FakeEmbedder):
    def __init__(self, marker: Path, *, always: bool) -> None:
        super().__init__()
        self.marker, self.always = marker, always

    def embed_passages(self, texts: Sequence[str], *, titles: Sequence[str] | None = None,
                       batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        if self.always or self._claim():
            os._exit(17)  # the process dies as an out-of-memory kill would end it
        return super().embed_passages(texts, titles=titles, batch_size=batch_size, progress=progress)

    def _claim(self) -> bool:
        try:
            self.marker.unlink()
        except FileNotFoundError:
            return False
        return True


class OtherModel(FakeEmbedder):
    """A worker whose weights differ from the build's model (its own fingerprint)."""

    def __init__(self) -> None:
        super().__init__()
        self.fingerprint = "fake-256-v1-elsewhere"


def assert_same_index(a: LoadedIndex, b: LoadedIndex, *, atol: float) -> None:
    """The same published index but for the version name and time: manifest, tables, articles,
    and vectors within ``atol``."""
    def comparable(manifest: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in manifest.items() if k not in ("version", "created_at")}

    assert comparable(a.manifest) == comparable(b.manifest)
    assert a.chunks == b.chunks
    assert a.articles == b.articles
    assert a.sentences == b.sentences
    rows = range(a.vectors.size)
    va = np.stack([a.vectors.reconstruct(i) for i in rows])
    vb = np.stack([b.vectors.reconstruct(i) for i in rows])
    assert va.shape == vb.shape
    np.testing.assert_allclose(va, vb, rtol=0, atol=atol)
    np.testing.assert_allclose(np.asarray(a.sentence_vectors[np.arange(len(a.sentences))]),
                               np.asarray(b.sentence_vectors[np.arange(len(b.sentences))]), rtol=0, atol=atol)
