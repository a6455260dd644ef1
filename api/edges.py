"""Every router the API serves, from one list: adding an endpoint is one module under
``api/routers/`` and one line here.

An entry names the router, builds it from the settings, and says whether the settings turn it on
(the admin routes exist only with an admin token). ``create_app`` includes the enabled ones, in this
order; none of them knows about the others. Shared helpers are in ``kiji.api.deps`` (``compute``,
``only_params``, the ``StateDep`` / ``EngineDep`` aliases) and ``kiji.api.security`` (``v1_router``:
API keys and rate limits for a /v1 router).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from kiji.api.routers import admin, articles, docs, feedback, ops, v1, web
from kiji.api.security import admin_enabled
from kiji.settings import Settings


def always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Edge:
    name: str
    build: Callable[[Settings], APIRouter]
    enabled: Callable[[Settings], bool] = always


EDGES: tuple[Edge, ...] = (
    Edge("articles", articles.build_router, enabled=admin_enabled),  # first: its 405s name GET too
    Edge("v1", v1.build_router),
    Edge("feedback", feedback.build_router),
    Edge("admin", admin.build_router, enabled=admin_enabled),
    Edge("ops", ops.build_router),
    Edge("web", web.build_router),
    Edge("docs", docs.build_router),
)


def include_edges(app: FastAPI, settings: Settings, edges: tuple[Edge, ...] = EDGES) -> list[str]:
    """Include every enabled edge's router in ``app``; return the names included."""
    included = []
    for edge in edges:
        if edge.enabled(settings):
            app.include_router(edge.build(settings))
            included.append(edge.name)
    return included
