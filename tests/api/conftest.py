"""Fixtures shared by this package's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kiji.api.app import create_app
from kiji.retrieval.engine import Engine
from tests.api.helpers import make_settings, serve
from tests.helpers import build_fake_index, small_corpus


@pytest.fixture()
async def client(fake_engine: Engine, fake_index_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(fake_index_dir), engine=fake_engine)
    async with serve(app) as c:
        yield c


@pytest.fixture()
def reload_dir(tmp_path: Path) -> Path:
    """An index folder of its own (reload tests publish versions into it)."""
    index_dir = tmp_path / "index"
    build_fake_index(index_dir, corpus=small_corpus(tmp_path, "corpus-a", 2))
    return index_dir
