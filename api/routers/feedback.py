"""``POST /v1/feedback``: 👍/👎 on an answer, stored in the same SQLite table as the bot's votes.

A vote is tied to the question, the quotes that were shown (``article_id:start-end``, as the bot
writes them), the answer's language, whether it was answered and the index version. The web page
has no user accounts: ``voter`` is a random id the page keeps per browser; only its salted hash is
stored, as for Discord users. One vote per (answer, voter): voting again replaces the first vote.
An answer is identified by what was shown, so everyone voting on the same answer shares a row key.
(No ``from __future__ import annotations``: FastAPI resolves the closure-local request model.)
"""

import hashlib
import json
import logging
import sqlite3
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from kiji.api.deps import StateDep
from kiji.api.errors import error_response, not_blank_question
from kiji.api.security import v1_router
from kiji.errors import SystemFault
from kiji.retrieval.validation import NOT_BLANK_PATTERN
from kiji.settings import Settings

logger = logging.getLogger("kiji.api")

#: How the bot names a quote in feedback rows (bot.embeds.quote_id); article ids are ``[\w.-]+``.
QuoteId = Annotated[str, StringConstraints(pattern=r"^[\w.\-]{1,128}:[0-9]{1,10}-[0-9]{1,10}$")]
#: An answer shows at most 10 quotes (top_k) plus the related passages of a decline.
MAX_QUOTE_IDS = 30


class FeedbackResponse(BaseModel):
    answer_id: str = Field(description="the key the vote is stored under (same answer → same key)")
    replaced: bool = Field(description="true when this voter's earlier vote on the answer was replaced")


def answer_key(question: str, index_version: str, quote_ids: list[str]) -> str:
    """16 hex digits, like the bot's answer ids; the ``web`` prefix keeps the two apart."""
    data = json.dumps(["web", question, index_version, quote_ids], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def build_router(settings: Settings) -> APIRouter:
    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", title="FeedbackRequest")

        question: str = Field(min_length=1, max_length=settings.max_question_chars,
                              json_schema_extra={"pattern": NOT_BLANK_PATTERN})
        vote: Literal["up", "down"]
        quote_ids: list[QuoteId] = Field(max_length=MAX_QUOTE_IDS,
                                         description="the quotes shown, as article_id:start-end")
        language: Literal["ja", "en"] = Field(description="the answer's language")
        answered: bool = Field(strict=True)
        index_version: str = Field(min_length=1, max_length=100, pattern=r"^[\w.\-:+]+$")
        voter: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$",
                           description="a random id the client keeps; stored only as a salted hash")

        _not_blank = field_validator("question")(not_blank_question)

    router = v1_router(settings)

    @router.post("/feedback", response_model=FeedbackResponse,
                 summary="Record 👍/👎 on an answer (a second vote by the same voter replaces the first)")
    async def feedback(body: FeedbackRequest, state: StateDep) -> FeedbackResponse | JSONResponse:
        answer_id = answer_key(body.question, body.index_version, body.quote_ids)

        def write() -> bool:
            return state.feedback_store().vote(
                answer_id=answer_id, user_id=f"web:{body.voter}", vote=body.vote, question=body.question,
                quote_ids=body.quote_ids, language=body.language, answered=body.answered,
                index_version=body.index_version)

        try:
            replaced = await anyio.to_thread.run_sync(write)
        except (sqlite3.Error, OSError, SystemFault) as exc:  # the deployment's disk, not a bug: say so,
            # keep serving. The log names the cause (and the store's path); the reply names neither.
            logger.error("feedback not stored: %s: %s", type(exc).__name__, exc)
            return error_response(503, "feedback_unavailable",
                                  "votes cannot be stored right now (the feedback database is not writable)")
        return FeedbackResponse(answer_id=answer_id, replaced=replaced)

    return router
