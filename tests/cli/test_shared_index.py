"""Many replicas, one index: a builder publishes into a shared index folder (its vector cache on
its own disk, KIJI_CACHE_DIR) and every replica's watcher follows CURRENT there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kiji import cli
from kiji.cli import resources
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.store import CURRENT, VERSIONS, current_version
from kiji.settings import Settings
from kiji.watcher import IndexWatcher
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture()
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "embedder", lambda settings: FakeEmbedder())


async def test_replicas_follow_a_builder_on_shared_storage(
        tmp_path: Path, corpus: Path, fake_cli: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "nfs" / "index"
    builder_disk = tmp_path / "builder" / "cache"
    monkeypatch.setenv("KIJI_CACHE_DIR", str(builder_disk))
    where = ["--corpus", str(corpus), "--index-dir", str(shared)]
    assert cli.main(["index", "build", *where]) == 0
    assert list(builder_disk.glob("embeddings-*.sqlite")) and not (shared / "cache").exists()
    first = current_version(shared)

    replicas = [IndexWatcher(Settings(index_dir=shared, _env_file=None), embedder=FakeEmbedder(),
                             warm_up=False) for _ in range(3)]
    for replica in replicas:
        engine = replica.load_initial()
        assert engine is not None and engine.version == first
        replica.swap(engine)

    path = corpus / "syn0.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more sentence about the harbour.\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["index", "build", *where]) == 0
    out = capsys.readouterr().out
    assert "1 changed" in out and " reused from cache" in out and " 0 reused" not in out
    second = current_version(shared)
    assert second != first
    for replica in replicas:
        result = await replica.check()
        assert (result.outcome, result.version, result.previous) == ("reloaded", second, first)
        assert replica.engine is not None and "harbour." in replica.engine.index.articles["syn0"].text


async def test_a_version_whose_files_arrive_after_current_is_served_on_a_later_try(
        tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An object-store sync (or a stale NFS cache) can show CURRENT before the version it names."""
    from kiji import watcher as watcher_mod
    from tests.helpers import build_fake_index

    built, replica_dir = tmp_path / "built", tmp_path / "replica"
    build_fake_index(built, corpus=corpus)
    first = current_version(built)
    shutil.copytree(built, replica_dir)
    replica = IndexWatcher(Settings(index_dir=replica_dir, _env_file=None),
                           embedder=FakeEmbedder(), warm_up=False)
    engine = replica.load_initial()
    assert engine is not None
    replica.swap(engine)

    build_fake_index(built, corpus=corpus)
    second = current_version(built)
    assert second is not None
    (replica_dir / VERSIONS / second).mkdir()  # the sync has created the folder, nothing in it yet
    shutil.copy(built / CURRENT, replica_dir / CURRENT)
    result = await replica.check()
    assert (result.outcome, result.version, result.candidate) == ("rejected", first, second)
    shutil.rmtree(replica_dir / VERSIONS / second)
    shutil.copytree(built / VERSIONS / second, replica_dir / VERSIONS / second)  # the rest arrives
    assert (await replica.check()).outcome == "rejected"  # not retried at every tick...
    monkeypatch.setattr(watcher_mod, "REJECTED_RETRY_S", 0.0)  # ...but once the retry time has passed
    result = await replica.check()
    assert (result.outcome, result.version) == ("reloaded", second)


def test_the_deployment_names_every_part_and_only_real_settings() -> None:
    """deploy/compose.yaml and docs/deployment.md: every part there, every KIJI_ variable a setting."""
    import yaml

    compose = yaml.safe_load((REPO_ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"api", "lb", "bot", "ray-head", "ray-worker", "builder"}
    doc = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    labels = {"api": "API replicas", "lb": "load balancer", "bot": "bot", "ray-head": "Ray head",
              "ray-worker": "Ray workers", "builder": "builder"}
    assert "| **shared index store** |" in doc
    fields = set(Settings.model_fields)
    for name, service in services.items():
        assert f"| **{labels[name]}** |" in doc, name  # a row of the moving parts' table
        for key in (service.get("environment") or {}):
            if key.startswith("KIJI_"):
                assert key.removeprefix("KIJI_").lower() in fields, key
                assert key in doc or name == "api" and key == "KIJI_WORKERS", key
    assert services["bot"]["deploy"]["replicas"] == 1
    assert "--ray" in services["builder"]["command"] and services["builder"]["profiles"] == ["build"]
    for reader in ("api", "bot"):
        assert any(v.startswith("index:") and v.endswith(":ro") for v in services[reader]["volumes"])
    assert "index:/shared/index" in services["builder"]["volumes"]
