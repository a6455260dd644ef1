"""What an edge receives when a language model is configured: the engine's ``AskResult`` plus how
the answer was produced. Quotes, offsets and the decision stay exactly the engine's.

Every reason an answer is not the model's is one code in ``FALLBACK_REASONS``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kiji.retrieval.models import AskResult

AnswerMode = Literal["generated", "extractive"]

#: kiji itself declined (no passage answers): there was nothing to write from, the model was not asked.
DECLINED = "declined"
# The model could not be used.
UNREACHABLE = "model_unreachable"
TIMEOUT = "timeout"
HTTP_ERROR = "model_http_error"
BAD_RESPONSE = "bad_response"
INTERRUPTED = "interrupted"
TRUNCATED = "truncated"
TOO_LONG = "answer_too_long"
ERROR = "generation_error"
# The model answered, and the answer failed verification.
EMPTY = "empty_answer"
NO_CITATIONS = "no_citations"
CITATION_OUT_OF_RANGE = "citation_out_of_range"
QUOTE_NOT_VERBATIM = "quote_not_verbatim"
FIGURE_NOT_IN_PASSAGES = "figure_not_in_passages"
WRONG_LANGUAGE = "wrong_language"

FALLBACK_REASONS: dict[str, str] = {
    DECLINED: "kiji declined the question, so the model was not asked",
    UNREACHABLE: "the model server could not be reached",
    TIMEOUT: "no complete answer within the timeout",
    HTTP_ERROR: "the model server answered with an HTTP error",
    BAD_RESPONSE: "the model server's response was not a valid chat completion",
    INTERRUPTED: "the connection closed before the answer was complete (streamed or not)",
    TRUNCATED: "the answer was cut by the token limit",
    TOO_LONG: "the answer ran past kiji's size cap (the server ignored max_tokens); reading stopped there",
    ERROR: "an unexpected error while generating (logged)",
    EMPTY: "the model returned no text",
    NO_CITATIONS: "the answer cites no passage",
    CITATION_OUT_OF_RANGE: "the answer cites a passage that was not given",
    QUOTE_NOT_VERBATIM: "quoted text is not word for word in a passage the sentence cites",
    FIGURE_NOT_IN_PASSAGES: "a figure is not in any passage the sentence cites",
    WRONG_LANGUAGE: "the answer is not in the question's language",
}


class Citation(BaseModel):
    n: int = Field(description="the marker as written in the answer: [n]")
    quote: int = Field(description="index of the cited entry in `quotes` (n - 1)")


class GeneratedAskResult(AskResult):
    """``AskResult`` with the generation record. ``answer_mode`` says which path wrote ``answer``;
    an extractive answer carries ``fallback_reason`` (a code from ``FALLBACK_REASONS``)."""

    answer_mode: AnswerMode
    fallback_reason: str | None = None
    fallback_detail: str | None = None
    #: The model said the passages do not answer: ``answered`` became false (never the reverse).
    model_declined: bool = False
    citations: list[Citation] = Field(default_factory=list)
    #: Sentences of a generated answer that cite no passage: shown, but not as sourced.
    unsourced: list[str] = Field(default_factory=list)
    #: Every rule the model's answer broke (or the one failure), for `kiji eval`; not serialised.
    checks: list[str] = Field(default_factory=list, exclude=True)


def extend(result: AskResult, **fields: object) -> GeneratedAskResult:
    """The engine's result, every field kept (the excluded ones too), plus the generation record."""
    return GeneratedAskResult.model_validate({**dict(result), **fields})
