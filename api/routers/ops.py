"""Operations endpoints: ``/healthz`` (alive), ``/readyz`` (a model and an index are loaded, or
why not) and ``/metrics`` (Prometheus). Unauthenticated, like a load balancer's probes expect."""

from pathlib import PurePath
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kiji.api.deps import StateDep
from kiji.api.errors import error_response, error_responses
from kiji.errors import IndexMissing
from kiji.settings import Settings


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ModelServer(BaseModel):
    """The language model server's state; informational: it never makes kiji unready."""

    state: Literal["ok", "unreachable", "error"]
    model: str
    detail: str | None = None
    listed: bool | None = Field(None, description="whether the server lists the configured model")


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    index_version: str
    articles: int
    chunks: int
    model: str
    runtime: str
    llm: ModelServer | None = Field(None, description="present when a language model is configured")



router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, response_model_exclude_none=True,
                responses=error_responses(503),
                summary="200 when a model and an index are loaded, else 503 naming why")
async def readyz(state: StateDep) -> Ready | JSONResponse:
    engine = state.engine
    if engine is None:
        reason = state.unavailable or IndexMissing("no index is loaded")
        return error_response(503, reason.code, str(reason))
    llm = None
    if state.generator is not None:
        # Answers fall back to extractive when the model server is down, so kiji stays ready.
        status = await state.generator.status()
        llm = ModelServer(state=status.state, model=status.model, detail=status.detail, listed=status.listed)
    return Ready(index_version=engine.version, articles=len(engine.index.articles),
                 chunks=len(engine.index.chunks),
                 # The folder name, not the path: no need to show the deployment's layout.
                 model=PurePath(engine.embedder.model_id).name or engine.embedder.model_id,
                 runtime=engine.embedder.runtime, llm=llm)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
                responses={200: {"content": {"text/plain": {}}}})
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


def build_router(settings: Settings) -> APIRouter:
    return router
