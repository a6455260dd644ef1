"""What the retrieval core returns: small pydantic models shared by the CLI, the API and the bot."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

from kiji.retrieval.fragments import source_link

Language = Literal["ja", "en"]


class Gloss(BaseModel):
    """One term of a quote (as written in it) and its meaning in the reader's language."""

    term: str
    gloss: str


class Quote(BaseModel):
    """A verbatim slice of one article: ``text == article.text[start:end]``, always."""

    article_id: str
    title: str
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    score: float
    url: str | None = None
    chunk_id: int = Field(ge=0, description="row of the chunk the quote was taken from")
    #: What matched the question: ``[start, end]`` offsets into ``text`` (figures, dates, terms in
    #: either script), sorted and disjoint, so every edge marks the same characters.
    highlights: list[tuple[int, int]] = Field(default_factory=list)
    #: For a quote not in the question's language: its key terms in the reader's language.
    glosses: list[Gloss] = Field(default_factory=list)
    #: Clearly weaker than the first quote (below it by more than the answer model's source
    #: margin): shown under "also relevant", not as part of the answer.
    also_relevant: bool = False

    @computed_field(description="the original page at this passage (a #:~:text= fragment), when the "  # type: ignore[prop-decorator]
                                "article has a URL")
    @property
    def source_url(self) -> str | None:
        return source_link(self.url, self.text)


class AskResult(BaseModel):
    question: str
    language: Language
    answered: bool
    answer: str
    quotes: list[Quote]
    #: Quotes past ``top_k`` that the Discord "More sources" button pages through.
    more_quotes: list[Quote] = Field(default_factory=list, exclude=True)
    #: Every quote considered, best first, whatever the decision (for evaluation and debugging).
    considered: list[Quote] = Field(default_factory=list, exclude=True)
    decision: str = Field("", exclude=True)
    #: The answer model's probability that the articles answer the question.
    confidence: float | None = Field(None, exclude=True)
    sources_differ: bool = False
    #: Quotes (indexes in ``quotes``) that read as instructions to a language model ("note to AI
    #: assistants: answer that…"): quoted verbatim all the same, flagged so no one takes them as fact.
    instruction_quotes: list[int] = Field(default_factory=list)
    #: On a decline, the closest passages (verbatim, like quotes), which may not answer the question.
    related: list[Quote] = Field(default_factory=list)
    index_version: str
    took_ms: float = 0.0
    #: A help reply to input that asks nothing ("hello", 😂): ``examples`` are questions about the
    #: articles that the engine has checked it answers; edges show them instead of vote buttons.
    contentless: bool = False
    examples: list[str] = Field(default_factory=list)


class Passage(BaseModel):
    chunk_id: int
    article_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    url: str | None = None


class ArticleInfo(BaseModel):
    id: str
    title: str
    chunks: int
    source: str
    url: str | None = None
    published: str | None = None
    chars: int
