"""The bot follows index rebuilds like the API: a new version is swapped in, a broken one refused."""

from __future__ import annotations

import shutil
from pathlib import Path

from kiji.bot.client import KijiBot
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import VERSIONS, current_version, load_current, publish
from kiji.settings import Settings
from kiji.watcher import IndexWatcher
from tests.helpers import FAKE_MODEL, build_fake_index, small_corpus


async def test_new_version_is_served_and_a_damaged_one_refused(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = build_fake_index(index_dir, corpus=small_corpus(tmp_path, "a", 2))
    engine = Engine(index=load_current(index_dir), embedder=embedder, model=FAKE_MODEL)
    settings = Settings(index_dir=index_dir, feedback_db=tmp_path / "fb.sqlite3", watch_index=False)
    bot = KijiBot(watcher=IndexWatcher(settings, engine=engine, warm_up=False), settings=settings)
    assert bot.watcher is not None
    try:
        first = engine.version
        assert (await bot.watcher.check()).version == first  # nothing new

        build_fake_index(index_dir, corpus=small_corpus(tmp_path, "b", 3), embedder=embedder)
        second = current_version(index_dir)
        assert second is not None and second != first
        assert (await bot.watcher.check()).version == second
        assert len(bot.engine.articles()) == 3
        assert engine.version == first  # the old engine object is untouched (answers in flight)

        # A version whose vectors are truncated is refused; the bot keeps the good one.
        damaged = index_dir / VERSIONS / "99990101T000000000000Z-1"
        shutil.copytree(index_dir / VERSIONS / second, damaged)
        (damaged / "vectors.faiss").write_bytes((damaged / "vectors.faiss").read_bytes()[:64])
        publish(index_dir, damaged.name)
        result = await bot.watcher.check()
        assert (result.outcome, result.version) == ("rejected", second)
        assert bot.engine.ask("DeepSeekとは?").index_version == second
    finally:
        await bot.close()


async def test_fake_embedder_is_shared_not_reloaded(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = build_fake_index(index_dir, corpus=small_corpus(tmp_path, "a", 1))
    engine = Engine(index=load_current(index_dir), embedder=embedder, model=FAKE_MODEL)
    build_fake_index(index_dir, corpus=small_corpus(tmp_path, "b", 2), embedder=FakeEmbedder())
    watcher = IndexWatcher(Settings(index_dir=index_dir), engine=engine, warm_up=False)
    assert (await watcher.check()).outcome == "reloaded"
    assert watcher.engine is not None and watcher.engine.embedder is embedder
