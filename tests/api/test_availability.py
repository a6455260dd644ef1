"""Start-up without an index or a model, loading once, running off the event loop, hot reloads
(the shared index watcher), and `kiji serve`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from kiji.api import server
from kiji.api.app import create_app
from kiji.api.deps import cpu_slots
from kiji.corpus.chunker import ChunkParams
from kiji.errors import ModelError
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.build import build_index
from kiji.retrieval.index.store import load_current
from kiji.settings import Settings
from tests.api.helpers import (
    ADMIN,
    JA_QUESTION,
    GatedEmbedder,
    RendezvousEmbedder,
    assert_error,
    make_settings,
    serve,
    state_of,
    truncate_vectors,
)
from tests.helpers import build_fake_index, small_corpus

# --- availability --------------------------------------------------------------------------------

async def test_missing_index_starts_unready_then_picks_up_a_built_index(tmp_path: Path) -> None:
    index_dir = tmp_path / "empty-index"
    app = create_app(make_settings(index_dir, watch_index=True, watch_interval_s=0.05),
                     embedder=FakeEmbedder())
    async with serve(app) as c:
        assert (await c.get("/healthz")).status_code == 200
        error = assert_error(await c.get("/readyz"), 503, "index_missing")
        assert "kiji index build" in error["message"]
        assert_error(await c.post("/v1/ask", json={"question": JA_QUESTION}), 503, "index_missing")
        assert_error(await c.get("/v1/articles"), 503, "index_missing")
        assert "kiji_ready 0.0" in (await c.get("/metrics")).text
        build_fake_index(index_dir, corpus=small_corpus(tmp_path, "corpus", 2))
        with anyio.fail_after(10):
            while (await c.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.05)
        response = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert response.status_code == 200
        assert response.json()["index_version"] == load_current(index_dir).version


async def test_model_is_loaded_once_at_startup(fake_index_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Settings] = []

    def fake_load(settings: Settings) -> FakeEmbedder:
        calls.append(settings)
        return FakeEmbedder()

    monkeypatch.setattr("kiji.watcher.load_embedder", fake_load)
    app = create_app(make_settings(fake_index_dir), warm_up=False)
    assert calls == []  # nothing is loaded before the lifespan starts
    async with serve(app) as c:
        for _ in range(3):
            assert (await c.post("/v1/ask", json={"question": JA_QUESTION})).status_code == 200
        assert (await c.get("/readyz")).status_code == 200
    assert len(calls) == 1


async def test_model_failure_is_a_503_naming_it(fake_index_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(_: Settings) -> FakeEmbedder:
        raise ModelError("the default embedding model is not prepared", hint="run `kiji model prepare`")

    monkeypatch.setattr("kiji.watcher.load_embedder", failing)
    async with serve(create_app(make_settings(fake_index_dir))) as c:
        assert (await c.get("/healthz")).status_code == 200
        error = assert_error(await c.get("/readyz"), 503, "model_error")
        assert "kiji model prepare" in error["message"]
        assert_error(await c.get("/v1/search", params={"q": "x"}), 503, "model_error")


async def test_incompatible_index_is_a_503(fake_index_dir: Path) -> None:
    app = create_app(make_settings(fake_index_dir), embedder=FakeEmbedder(dim=128))
    async with serve(app) as c:
        assert_error(await c.get("/readyz"), 503, "index_incompatible")


async def test_embedding_runs_off_the_event_loop(fake_index_dir: Path) -> None:
    embedder = GatedEmbedder()
    engine = Engine(index=load_current(fake_index_dir), embedder=embedder)
    async with serve(create_app(make_settings(fake_index_dir), engine=engine)) as c:
        embedder.hold.set()
        held = asyncio.create_task(c.post("/v1/ask", json={"question": JA_QUESTION}))
        try:
            assert await anyio.to_thread.run_sync(embedder.entered.wait, 5)
            with anyio.fail_after(5):  # the loop still answers while a query is being embedded
                assert (await c.get("/healthz")).status_code == 200
                assert (await c.get("/v1/articles")).status_code == 200
        finally:
            embedder.release.set()
        assert (await held).status_code == 200


@pytest.mark.skipif(cpu_slots(1) < 2, reason="needs two cores to run two queries at once")
async def test_concurrent_questions_run_in_parallel(fake_index_dir: Path) -> None:
    engine = Engine(index=load_current(fake_index_dir), embedder=RendezvousEmbedder(2))
    async with serve(create_app(make_settings(fake_index_dir), engine=engine)) as c:
        with anyio.fail_after(15):
            responses = await asyncio.gather(*(c.post("/v1/ask", json={"question": JA_QUESTION})
                                               for _ in range(2)))
    assert [r.status_code for r in responses] == [200, 200]


# --- reload --------------------------------------------------------------------------------------

async def test_admin_routes_are_404_without_an_admin_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/v1/admin/reload", headers=ADMIN), 404, "not_found")


async def test_admin_token_is_required(reload_dir: Path) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    app = create_app(make_settings(reload_dir, admin_token="admin-secret", api_keys="user-key"),
                     engine=engine)
    async with serve(app) as c:
        assert_error(await c.post("/v1/admin/reload"), 401, "unauthorized")
        assert_error(await c.post("/v1/admin/reload", headers={"Authorization": "Bearer user-key"}),
                     403, "forbidden")
        response = await c.post("/v1/admin/reload", headers=ADMIN)
        assert response.status_code == 200
        assert response.json() == {"outcome": "unchanged", "version": engine.version, "previous": None}


async def test_reload_picks_up_a_new_version(reload_dir: Path, tmp_path: Path) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    old = engine.version
    app = create_app(make_settings(reload_dir, admin_token="admin-secret"), engine=engine)
    async with serve(app) as c:
        assert len((await c.get("/v1/articles")).json()["articles"]) == 2
        build_fake_index(reload_dir, corpus=small_corpus(tmp_path, "corpus-b", 3))
        new = load_current(reload_dir).version
        response = await c.post("/v1/admin/reload", headers=ADMIN)
        assert response.status_code == 200
        assert response.json() == {"outcome": "reloaded", "version": new, "previous": old}
        assert (await c.get("/readyz")).json()["index_version"] == new
        listing = (await c.get("/v1/articles")).json()
        assert listing["index_version"] == new and len(listing["articles"]) == 3
        ask = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert ask.json()["index_version"] == new
        metrics = (await c.get("/metrics")).text
        assert f'kiji_index_info{{version="{new}"}} 1.0' in metrics and old not in metrics
        assert 'kiji_index_reloads_total{outcome="reloaded"} 1.0' in metrics


async def test_watcher_picks_up_a_new_version(reload_dir: Path, tmp_path: Path) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    app = create_app(make_settings(reload_dir, watch_index=True, watch_interval_s=0.05), engine=engine)
    async with serve(app) as c:
        build_fake_index(reload_dir, corpus=small_corpus(tmp_path, "corpus-b", 3))
        new = load_current(reload_dir).version
        with anyio.fail_after(10):
            while (await c.get("/readyz")).json()["index_version"] != new:
                await asyncio.sleep(0.05)
        assert len((await c.get("/v1/articles")).json()["articles"]) == 3


async def test_a_damaged_version_is_rejected_and_the_old_one_keeps_answering(
        reload_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    old = engine.version
    app = create_app(make_settings(reload_dir, admin_token="admin-secret"), engine=engine)
    corpus_b = small_corpus(tmp_path, "corpus-b", 3)
    async with serve(app) as c:
        build_index(corpus_paths=[corpus_b], index_dir=reload_dir, embedder=FakeEmbedder(),
                    params=ChunkParams(), _before_publish=truncate_vectors)
        damaged = (reload_dir / "CURRENT").read_text().strip()
        assert damaged != old
        with caplog.at_level(logging.ERROR, logger="kiji.watcher"):
            response = await c.post("/v1/admin/reload", headers=ADMIN)
        error = assert_error(response, 409, "index_corrupt")
        assert damaged in error["message"] and old in error["message"]
        assert damaged in caplog.text
        assert (await c.get("/readyz")).json()["index_version"] == old
        ask = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert ask.status_code == 200 and ask.json()["index_version"] == old
        assert 'kiji_index_reloads_total{outcome="rejected"} 1.0' in (await c.get("/metrics")).text

        # The watcher does not retry the same broken version on every tick...
        state = state_of(app)
        again = await state.watcher.check()
        assert again.outcome == "rejected" and again.error is None and again.version == old
        # ...and a good version published after it is served.
        build_fake_index(reload_dir, corpus=corpus_b)
        fixed = await c.post("/v1/admin/reload", headers=ADMIN)
        assert fixed.status_code == 200 and fixed.json()["outcome"] == "reloaded"
        assert state.watcher.rejected_version is None


async def test_in_flight_request_finishes_on_the_version_it_started_with(reload_dir: Path,
                                                                         tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    engine = Engine(index=load_current(reload_dir), embedder=embedder)
    old = engine.version
    app = create_app(make_settings(reload_dir, admin_token="admin-secret"), engine=engine)
    async with serve(app) as c:
        embedder.hold.set()
        held = asyncio.create_task(c.post("/v1/ask", json={"question": JA_QUESTION}))
        try:
            assert await anyio.to_thread.run_sync(embedder.entered.wait, 5)
            build_fake_index(reload_dir, corpus=small_corpus(tmp_path, "corpus-b", 3))
            new = load_current(reload_dir).version
            reloaded = await c.post("/v1/admin/reload", headers=ADMIN)
            assert reloaded.json()["outcome"] == "reloaded"
        finally:
            embedder.release.set()
        first = await held
        assert first.status_code == 200 and first.json()["index_version"] == old
        second = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert second.status_code == 200 and second.json()["index_version"] == new


async def test_forced_reload_without_any_index_is_503(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "none", admin_token="admin-secret"), embedder=FakeEmbedder())
    async with serve(app) as c:
        assert_error(await c.post("/v1/admin/reload", headers=ADMIN), 503, "index_missing")


# --- server --------------------------------------------------------------------------------------

def test_server_run_single_worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                  fake_index_dir: Path) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    server.run(make_settings(fake_index_dir, host="127.0.0.1", port=8123))
    assert "kiji API listening on http://127.0.0.1:8123 (docs at /docs)" in capsys.readouterr().err
    assert isinstance(seen["app"], FastAPI) and seen["port"] == 8123 and seen["host"] == "127.0.0.1"


def test_server_run_workers_use_the_factory(monkeypatch: pytest.MonkeyPatch, fake_index_dir: Path) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv(server.WORKER_SETTINGS_ENV, raising=False)
    settings = make_settings(fake_index_dir, workers=3, api_keys="a,b", admin_token="t",
                             cors_origins="https://x.example", top_k=4, llm_base_url="http://127.0.0.1:9/v1",
                             llm_model="m", llm_api_key="k", discord_token="d", public_url="https://k.example")
    server.run(settings)
    assert seen["app"] == "kiji.api.server:worker_app" and seen["factory"] is True and seen["workers"] == 3
    # What each worker will build its app from: the whole settings object, every field.
    exported = json.loads(os.environ[server.WORKER_SETTINGS_ENV])
    assert set(exported) == set(Settings.model_fields)
    rebuilt = server.worker_settings()
    assert rebuilt == settings
    assert [k.get_secret_value() for k in rebuilt.api_keys] == ["a", "b"]
    assert rebuilt.llm_api_key is not None and rebuilt.llm_api_key.get_secret_value() == "k"
    assert rebuilt.discord_token is not None and rebuilt.discord_token.get_secret_value() == "d"
    assert isinstance(server.worker_app(), FastAPI)
    monkeypatch.delenv(server.WORKER_SETTINGS_ENV)


def test_a_worker_process_gets_the_parents_settings_not_its_environment(fake_index_dir: Path) -> None:
    """In a fresh interpreter, as uvicorn starts a worker: the exported object wins over a
    ``KIJI_*`` variable or ``.env`` the worker would otherwise read."""
    settings = make_settings(fake_index_dir, top_k=4, llm_base_url="http://127.0.0.1:9/v1", llm_model="m",
                             max_question_chars=321)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIJI_")}
    env.update({server.WORKER_SETTINGS_ENV: server.settings_for_workers(settings), "KIJI_TOP_K": "9"})
    code = "from kiji.api.server import worker_settings; print(worker_settings().model_dump_json())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert Settings.model_validate_json(proc.stdout, by_name=True).model_dump(mode="json") == \
        settings.model_dump(mode="json")
