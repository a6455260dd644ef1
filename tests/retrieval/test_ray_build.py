"""`kiji index build --ray`: embedding on a local Ray cluster (a head and a worker node, each its
own raylet process) publishes the same version as the plain build; dead workers are replaced and
their blocks retried; a build that cannot finish publishes nothing."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.errors import BuildError, ServiceUnreachable
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.embedding.ray_pool import RayConfig, RayEmbeddingPool
from kiji.retrieval.index.build import BuildSummary
from kiji.retrieval.index.store import VERSIONS, current_version, list_versions, load_current
from kiji.settings import Settings
from tests.helpers import REPO_ROOT, build, leftovers
from tests.kiji_cli import kiji
from tests.retrieval.ray_helpers import CrashAlways, CrashOnce, OtherModel, assert_same_index, local_cluster

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with local_cluster(worker_nodes=1) as address:
        yield address


def pool(address: str, factory: object = FakeEmbedder, *, retries: int = 3, batch: int = 64,
         fingerprint: str = FakeEmbedder().fingerprint) -> RayEmbeddingPool:
    config = RayConfig(address=address, actors=2, batch_size=batch, max_retries=retries)
    return RayEmbeddingPool(config, factory, fingerprint=fingerprint, dim=256)  # type: ignore[arg-type]


def ray_build(corpus: Path, index_dir: Path, encoder: RayEmbeddingPool) -> BuildSummary:
    return build(corpus, index_dir, FakeEmbedder(), encoder=encoder)


# --- the real model through the CLI --------------------------------------------------------------

@pytest.mark.model
def test_cli_ray_build_of_the_shipped_corpus_equals_the_plain_build(
        cluster: str, real_settings: Settings, real_engine: object, tmp_path: Path) -> None:
    """The ONNX encoder in two actors (one per node) against the session's plain build."""
    index_dir = tmp_path / "ray-index"
    run = kiji("index", "build", "--ray", cluster, "--index-dir", index_dir, "--corpus", SHIPPED_CORPUS_DIR,
               "--json", fake=False, timeout=300,
               env={"KIJI_EMBEDDING_MODEL": real_settings.embedding_model, "KIJI_RAY_ACTORS": "2",
                    "KIJI_RAY_BATCH_SIZE": "64"})
    assert run.code == 0, run.err
    assert f"connected to the Ray cluster at {cluster}" in run.err
    plain, distributed = load_current(real_settings.index_dir), load_current(index_dir)
    assert distributed.manifest["model"]["runtime"] == plain.manifest["model"]["runtime"]
    # Batches are composed differently (another padding width): equal within rounding.
    assert_same_index(plain, distributed, atol=1e-4)


# --- FakeEmbedder actors, in process ---------------------------------------------------------------

def test_ray_build_equals_the_plain_build_and_survives_a_dead_worker(
        cluster: str, tmp_path: Path, corpus: Path) -> None:
    plain_dir, ray_dir = tmp_path / "plain", tmp_path / "ray"
    build(corpus, plain_dir)
    marker = tmp_path / "crash-once"
    marker.touch()
    summary = ray_build(corpus, ray_dir, pool(cluster, CrashOnce(marker), batch=32))
    assert not marker.exists()  # a worker did die; its actor was restarted and its block retried
    assert summary.published and summary.embedded_chunks > 64  # several blocks
    assert_same_index(load_current(plain_dir), load_current(ray_dir), atol=0.0)

    # Incremental: the next Ray build embeds only the edited article's new passages.
    path = corpus / "syn0.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\nA new closing sentence about the harbour.\n",
                    encoding="utf-8")
    again = ray_build(corpus, ray_dir, pool(cluster))
    assert again.changed == ["syn0"] and 0 < again.embedded_chunks <= 3
    build(corpus, plain_dir)
    assert_same_index(load_current(plain_dir), load_current(ray_dir), atol=0.0)


def test_a_build_whose_workers_keep_dying_publishes_nothing(cluster: str, tmp_path: Path,
                                                            corpus: Path) -> None:
    index_dir = tmp_path / "index"
    first = build(corpus, index_dir)
    (corpus / "syn1.txt").write_text("A new title\n\nWith a sentence nobody embedded before.\n",
                                     encoding="utf-8")
    with pytest.raises(BuildError, match="the Ray cluster could not embed the passages: .*died"):
        ray_build(corpus, index_dir, pool(cluster, CrashAlways(tmp_path / "unused"), retries=1))
    assert current_version(index_dir) == first.version
    assert list_versions(index_dir) == [first.version] and leftovers(index_dir) == []


def test_a_worker_with_another_model_is_refused(cluster: str, tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    with pytest.raises(BuildError, match="a Ray worker embedded with another model"):
        ray_build(corpus, index_dir, pool(cluster, OtherModel))
    assert not (index_dir / VERSIONS).exists() or list_versions(index_dir) == []
    # Its vectors never reached the cache: a plain build afterwards embeds every passage itself.
    again = build(corpus, index_dir)
    assert again.reused_chunks == 0


# --- no cluster needed -----------------------------------------------------------------------------

def test_unreachable_cluster_is_named(tmp_path: Path, corpus: Path) -> None:
    with pytest.raises(ServiceUnreachable, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        ray_build(corpus, tmp_path / "index", pool("127.0.0.1:9"))
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_without_ray_installed_the_extra_is_named(tmp_path: Path, corpus: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(BuildError, match=r"needs Ray.*pip install 'kiji\[ray\]'"):
        ray_build(corpus, tmp_path / "index", pool("local"))


def test_serving_never_imports_ray_and_the_plain_install_does_not_require_it() -> None:
    code = ("import sys; import kiji.api.app, kiji.bot.main, kiji.cli, kiji.runtime, kiji.watcher; "
            "import kiji.retrieval.embedding.ray_pool; kiji.cli.build_parser(); "
            "assert not any(m == 'ray' or m.startswith('ray.') for m in sys.modules), 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("ray")]
    assert any(d.startswith("ray[data]") for d in project["optional-dependencies"]["ray"])
    assert any(d.startswith("ray[data]") for d in project["optional-dependencies"]["test"])


def test_vectors_come_back_in_the_right_rows_whatever_the_order(cluster: str) -> None:
    texts = [f"passage {i} " + "x" * (i * 7 % 50) for i in range(300)]
    seen = np.zeros(len(texts), dtype=bool)
    expected = FakeEmbedder().embed_passages(texts)
    ticks: list[int] = []
    for rows, vectors in pool(cluster, batch=40)(texts, None, ticks.append):
        assert not seen[rows].any()
        seen[rows] = True
        np.testing.assert_array_equal(vectors, expected[rows])
    assert seen.all() and sum(ticks) == len(texts)
