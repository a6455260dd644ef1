"""The API's routers come from one list (``kiji.api.edges.EDGES``): the app serves exactly the
enabled entries' routes, and a new edge plugs in with the shared helpers and no other change."""

# No `from __future__ import annotations`: FastAPI resolves the test router's handler signature.

from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from kiji.api.app import create_app
from kiji.api.deps import EngineDep, StateDep, compute
from kiji.api.edges import EDGES, Edge
from kiji.api.security import v1_router
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.api.helpers import assert_error, make_settings, serve


def test_the_app_serves_the_enabled_edges_and_nothing_added_by_hand(
        fake_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    included: list[APIRouter] = []
    original = FastAPI.include_router

    def spy(self: FastAPI, router: APIRouter, **kw: Any) -> None:
        included.append(router)
        original(self, router, **kw)

    monkeypatch.setattr(FastAPI, "include_router", spy)
    built: list[tuple[str, APIRouter]] = []

    def recorded(edge: Edge) -> Edge:
        def build(s: Settings) -> APIRouter:
            built.append((edge.name, edge.build(s)))
            return built[-1][1]
        return Edge(edge.name, build, edge.enabled)

    for settings, admin in [(make_settings(fake_index_dir), False),
                            (make_settings(fake_index_dir, admin_token="t"), True)]:
        included.clear()
        built.clear()
        create_app(settings, edges=tuple(map(recorded, EDGES)))
        assert included == [router for _, router in built]
        assert [name for name, _ in built] == [e.name for e in EDGES if e.enabled(settings)]
        assert ("admin" in [name for name, _ in built]) is admin
    assert {"v1", "feedback", "admin", "ops", "web"} <= {e.name for e in EDGES}


class Count(BaseModel):
    q: str
    passages: int


def build_count_router(settings: Settings) -> APIRouter:
    """What a contributor's edge looks like: a /v1 router (keys, rate limits) using ``compute``."""
    router = v1_router(settings)

    @router.get("/count")
    async def count(engine: EngineDep, state: StateDep, q: Annotated[str, Query(min_length=1)]) -> Count:
        return Count(q=q, passages=len(await compute(state, engine.search, q, k=3)))

    return router


async def test_a_new_edge_is_one_entry(fake_engine: Engine, fake_index_dir: Path) -> None:
    extra = Edge("count", build_count_router, enabled=lambda s: s.top_k == 4)
    settings = make_settings(fake_index_dir, top_k=4, api_keys="k1")
    async with serve(create_app(settings, engine=fake_engine, edges=(*EDGES, extra))) as client:
        assert_error(await client.get("/v1/count", params={"q": "DeepSeek"}), 401)  # the /v1 guard applies
        response = await client.get("/v1/count", params={"q": "DeepSeek"}, headers={"Authorization": "Bearer k1"})
        assert response.status_code == 200 and response.json() == {"q": "DeepSeek", "passages": 3}
        assert "/v1/count" in (await client.get("/openapi.json")).json()["paths"]
    # Off by its settings: not mounted at all.
    async with serve(create_app(make_settings(fake_index_dir), engine=fake_engine,
                                edges=(*EDGES, extra))) as client:
        assert_error(await client.get("/v1/count", params={"q": "DeepSeek"}), 404)
