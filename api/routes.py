"""HTTP routes: /v1 (questions, search, articles), /v1/admin (reload), and operations endpoints.

The /v1 router is built per app because its request model carries the configured
``max_question_chars``, so the OpenAPI schema states the real limit. (No ``from __future__ import
annotations`` here: FastAPI must resolve the closure-local request model in handler signatures.)

Engine work runs on worker threads through ``state.cpu_limiter``; the event loop only parses,
routes and serialises, so slow embeddings never block health checks or other requests.
"""

import functools
from collections.abc import Callable
from pathlib import PurePath
from typing import Annotated, Literal, TypeVar

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from kiji.api.deps import AppState, EngineDep, StateDep
from kiji.api.errors import error_response, error_responses, not_blank_question
from kiji.api.security import require_admin, v1_router
from kiji.api.streaming import ASK_STREAM_RESPONSE, event_stream
from kiji.errors import IndexMissing, InvalidInput
from kiji.retrieval.generation.result import AnswerMode, Citation
from kiji.retrieval.models import ArticleInfo, AskResult, Passage
from kiji.retrieval.validation import MAX_SEARCH_K, MAX_TOP_K, NOT_BLANK_PATTERN
from kiji.settings import Settings

T = TypeVar("T")

#: Documents "not only whitespace" in the schema; the validators enforce the same rule (is_blank),
#: since pydantic's regex engine and Python's str.isspace disagree on a few control characters.
NOT_BLANK: JsonDict = {"pattern": NOT_BLANK_PATTERN}


async def compute(state: AppState, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run engine work on a worker thread, at most ``cpu_limiter`` at a time."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                          limiter=state.cpu_limiter)


def only_params(request: Request, allowed: set[str]) -> None:
    """Unknown query parameters are typos (?K=3, ?query=), refused like unknown body fields."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)[:200]}")


def _json_integer(value: object) -> object:
    """JSON Schema's ``integer``: 3 and 3.0 yes; "3" and true no (pydantic's lax mode takes them)."""
    if isinstance(value, (bool, str)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# --- response models ---------------------------------------------------------------------------

class AskResponse(AskResult):
    """The answer object. The generation fields are present only when a language model is configured."""

    answer_mode: AnswerMode | None = Field(None, description="which path wrote `answer` (model configured)")
    fallback_reason: str | None = Field(None, description="why the answer is extractive, as a code")
    fallback_detail: str | None = None
    model_declined: bool | None = Field(None, description="the model said the quotes do not answer")
    citations: list[Citation] | None = Field(None, description="[n] markers in a generated answer → quotes[n-1]")
    unsourced: list[str] | None = Field(None, description="sentences of a generated answer that cite no quote")


class SearchResponse(BaseModel):
    query: str
    index_version: str
    passages: list[Passage] = Field(description="best first")


class ArticleList(BaseModel):
    index_version: str
    articles: list[ArticleInfo]


class ArticleDetail(ArticleInfo):
    sha256: str
    text: str = Field(description="the article text as indexed; quote offsets point into it")
    index_version: str


class ArticleChunk(BaseModel):
    chunk_id: int
    start: int
    end: int
    text: str = Field(description="``article.text[start:end]``")


class ArticleChunks(BaseModel):
    article_id: str
    index_version: str
    chunks: list[ArticleChunk] = Field(description="in article order; neighbours overlap by a sentence")


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


class ReloadResponse(BaseModel):
    outcome: Literal["reloaded", "unchanged"]
    version: str = Field(description="the index version served now")
    previous: str | None = Field(None, description="the version served before, when it changed")


# --- /v1 -----------------------------------------------------------------------------------------

def build_v1_router(settings: Settings) -> APIRouter:
    max_chars = settings.max_question_chars

    class AskRequest(BaseModel):
        # Unknown fields are typos, not options: reject them rather than ignore them.
        model_config = ConfigDict(extra="forbid", title="AskRequest")

        question: str = Field(min_length=1, max_length=max_chars,
                              description="Japanese or English; not blank",
                              examples=["Stargateの最初の投資額っていくら?"],
                              json_schema_extra=NOT_BLANK)
        top_k: Annotated[int | None, BeforeValidator(_json_integer)] = Field(
                                  None, ge=1, le=MAX_TOP_K,
                                  description=f"quotes to return (default {settings.top_k})")
        language: Literal["ja", "en"] | None = Field(
            None, description="answer language; detected from the question when omitted")
        stream: StrictBool = Field(False, description="answer as server-sent events (text/event-stream)")

        _not_blank = field_validator("question")(not_blank_question)

    router = v1_router(settings)

    @router.post("/ask", response_model=AskResponse, responses=ASK_STREAM_RESPONSE,
                 summary="Answer a question with verbatim quotes")
    async def ask(body: AskRequest, engine: EngineDep, state: StateDep) -> Response:
        result = await compute(state, engine.ask, body.question, top_k=body.top_k,
                               language=body.language)
        if body.stream:
            return event_stream(result, state.generator)
        if state.generator is not None:
            result = await state.generator.answer(result)
        # Serialised straight from the engine's model: FastAPI would validate it a second time.
        return Response(result.model_dump_json(), media_type="application/json")

    @router.get("/search", response_model=SearchResponse, summary="Ranked passages for a query")
    async def search(
        request: Request, engine: EngineDep, state: StateDep,
        q: Annotated[str, Query(min_length=1, max_length=max_chars, description="the query; not blank",
                                json_schema_extra=NOT_BLANK)],
        k: Annotated[int, Query(ge=1, le=MAX_SEARCH_K, description="passages to return")] = 5,
    ) -> SearchResponse:
        only_params(request, {"q", "k"})
        passages = await compute(state, engine.search, q, k=k)
        return SearchResponse(query=q, index_version=engine.version, passages=passages)

    @router.get("/articles", response_model=ArticleList, summary="Every article in the index")
    async def articles(request: Request, engine: EngineDep, state: StateDep) -> ArticleList:
        only_params(request, set())
        return ArticleList(index_version=engine.version, articles=await compute(state, engine.articles))

    @router.get("/articles/{article_id}", response_model=ArticleDetail,
                responses=error_responses(404), summary="One article's text and metadata")
    async def article(
        article_id: Annotated[str, Path(description="an id from /v1/articles")],
        engine: EngineDep, state: StateDep,
    ) -> ArticleDetail:
        # A dictionary lookup in the loaded index: the id never becomes a path.
        found = engine.article(article_id)
        chunks = await compute(state, lambda: sum(1 for c in engine.index.chunks
                                                  if c.article_id == found.id))
        return ArticleDetail(id=found.id, title=found.title, chunks=chunks, source=found.source,
                             url=found.url, published=found.published, chars=len(found.text),
                             sha256=found.sha256, text=found.text, index_version=engine.version)

    @router.get("/articles/{article_id}/chunks", response_model=ArticleChunks,
                responses=error_responses(404), summary="The passages an article is searched by")
    async def article_chunks(
        article_id: Annotated[str, Path(description="an id from /v1/articles")],
        engine: EngineDep, state: StateDep,
    ) -> ArticleChunks:
        found = engine.article(article_id)
        rows = await compute(state, lambda: [(i, c) for i, c in enumerate(engine.index.chunks)
                                             if c.article_id == found.id])
        return ArticleChunks(article_id=found.id, index_version=engine.version,
                             chunks=[ArticleChunk(chunk_id=i, start=c.start, end=c.end, text=c.text)
                                     for i, c in rows])

    return router


# --- /v1/admin -----------------------------------------------------------------------------------

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)],
                         responses=error_responses(401, 403, 429))


@admin_router.post("/reload", response_model=ReloadResponse, responses=error_responses(409, 503),
                   summary="Serve the version CURRENT names now, if it is new and loads")
async def reload(state: StateDep) -> ReloadResponse | JSONResponse:
    result = await state.watcher.check(force=True)
    if result.outcome in ("reloaded", "unchanged"):
        assert result.version is not None
        return ReloadResponse(outcome=result.outcome, version=result.version,
                              previous=result.previous)
    error = result.error or IndexMissing("no index is loaded")
    if result.outcome == "rejected":
        serving = result.version or "nothing"
        rejected = f"index version {result.candidate}" if result.candidate else "CURRENT"
        return error_response(409, error.code, f"{rejected} was rejected and "
                                               f"{serving} is still served: {error}")
    return error_response(503, error.code, str(error))


# --- operations ----------------------------------------------------------------------------------

ops_router = APIRouter(tags=["operations"])


@ops_router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@ops_router.get("/readyz", response_model=Ready, response_model_exclude_none=True,
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


@ops_router.get("/metrics", response_class=Response, summary="Prometheus metrics",
                responses={200: {"content": {"text/plain": {}}}})
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
