"""The /v1 resource routes: questions (``/ask``), ``/search`` and ``/articles``.

The router is built per app because its request model carries the configured
``max_question_chars``, so the OpenAPI schema states the real limit. (No ``from __future__ import
annotations`` here: FastAPI must resolve the closure-local request model in handler signatures.)

Engine work runs on worker threads through ``compute`` (``api/deps.py``); the event loop only
parses, routes and serialises, so slow embeddings never block health checks or other requests.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from kiji.api.deps import EngineDep, StateDep, compute, only_params
from kiji.api.errors import error_responses, not_blank_question
from kiji.api.security import v1_router
from kiji.api.streaming import ASK_STREAM_RESPONSE, event_stream
from kiji.corpus.boilerplate import furniture_spans
from kiji.retrieval.generation.result import AnswerMode, Citation
from kiji.retrieval.models import ArticleInfo, AskResult, Language, Passage
from kiji.retrieval.validation import MAX_SEARCH_K, MAX_TOP_K, NOT_BLANK_PATTERN
from kiji.settings import Settings

#: Documents "not only whitespace" in the schema; the validators enforce the same rule (is_blank),
#: since pydantic's regex engine and Python's str.isspace disagree on a few control characters.
NOT_BLANK: JsonDict = {"pattern": NOT_BLANK_PATTERN}
#: The ``{article_id}`` of the article routes.
ArticleId = Annotated[str, Path(description="an id from /v1/articles")]


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
    hidden: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[start, end) spans of page furniture in ``text`` (image lines, length lines) that a "
                    "reader leaves out; never quoted")
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


# --- /v1 -----------------------------------------------------------------------------------------

def build_router(settings: Settings) -> APIRouter:
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
    async def article(article_id: ArticleId, engine: EngineDep) -> ArticleDetail:
        # A dictionary lookup in the loaded index: the id never becomes a path.
        found = engine.article(article_id)
        return ArticleDetail(id=found.id, title=found.title, chunks=len(engine.chunks_of(found.id)),
                             source=found.source,
                             url=found.url, published=found.published, chars=len(found.text),
                             sha256=found.sha256, text=found.text, hidden=furniture_spans(found.text),
                             index_version=engine.version)

    @router.get("/articles/{article_id}/chunks", response_model=ArticleChunks,
                responses=error_responses(404), summary="The passages an article is searched by")
    async def article_chunks(article_id: ArticleId, engine: EngineDep) -> ArticleChunks:
        found = engine.article(article_id)
        chunks = engine.index.chunks
        return ArticleChunks(article_id=found.id, index_version=engine.version,
                             chunks=[ArticleChunk(chunk_id=i, start=chunks[i].start, end=chunks[i].end,
                                                  text=chunks[i].text) for i in engine.chunks_of(found.id)])

    @router.get("/examples", response_model=Examples, summary="Example questions the articles answer")
    async def examples(
        request: Request, engine: EngineDep, state: StateDep,
        language: Annotated[Language, Query(description="the questions' language")] = "en",
    ) -> Examples:
        only_params(request, {"language"})
        found = await compute(state, engine.examples, language)
        return Examples(language=language, examples=found, index_version=engine.version)

    return router


class Examples(BaseModel):
    """What the empty web page offers to ask: composed from the article titles, each checked."""

    language: Language
    examples: list[str]
    index_version: str
