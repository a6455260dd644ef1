"""Questions that name an article ("「DeepSeekその②」を書いた人", "the Ai+Crypto article").

Users refer to articles by their titles; when a question does, that article's passages are the
ones to quote, however the question is phrased. A title is *referenced* when a quoted phrase of the
question is part of it, or when a question about an article (記事, 筆者, "the post") shares a run of
characters with one title that no other title has (so a shared word like "DeepSeek" names nothing).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from kiji.retrieval.search.candidates import QueryTerms

_QUOTED = re.compile(r"[「『\"“]([^」』\"”]{2,120})[」』\"”]")
_MIN_RUN = 6
#: Without quotes, a shared run only names an article when the question talks about an article.
_ARTICLE_CUE = re.compile(r"(記事|投稿|ブログ|筆者|著者|作者|書いた|書き手|article|post|blog|author|writer|wrote)",
                          re.IGNORECASE)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "")


def _common_runs(a: str, b: str, min_len: int) -> set[str]:
    """All substrings of ``a`` of length ``min_len`` that occur in ``b`` (enough to test uniqueness)."""
    return {a[i : i + min_len] for i in range(len(a) - min_len + 1) if a[i : i + min_len] in b}


def without_quoted_titles(question: str, titles: Mapping[str, str]) -> str:
    """The question minus the quoted titles it names: what to look for *inside* that article."""
    normed = [_norm(t) for t in titles.values()]

    def strip(match: re.Match[str]) -> str:
        p = _norm(match.group(1))
        named = len(p) >= 3 and any(p in t or (len(t) >= 3 and t in p) for t in normed)
        return " " if named else match.group(0)

    stripped = _QUOTED.sub(strip, question).strip()
    return stripped if len(stripped) >= 4 else question


def referenced_articles(question: str, titles: Mapping[str, str]) -> dict[str, float]:
    """Article id → strength (1.0 quoted title, 0.5 distinctive shared run)."""
    q = _norm(question)
    normed = {aid: _norm(t) for aid, t in titles.items()}
    found: dict[str, float] = {}
    for phrase in _QUOTED.findall(question):
        p = _norm(phrase)
        for aid, title in normed.items():
            if len(p) >= 3 and (p in title or (len(title) >= 3 and title in p)):
                found[aid] = 1.0
    if found or not _ARTICLE_CUE.search(question):
        return found
    for aid, title in normed.items():
        runs = _common_runs(q, title, _MIN_RUN)
        others = [t for other, t in normed.items() if other != aid]
        if any(all(run not in t for t in others) for run in runs):
            found[aid] = 0.5
    return found


#: Nouns that point at an article rather than ask about its content ("the article's author").
_REFERENCE_NOUNS = frozenset({"記事", "投稿", "ブログ", "エントリー", "article", "post", "blog", "entry"})


def drop_reference_words(terms: QueryTerms) -> QueryTerms:
    """Once the named article is known, 記事/"article" would only match unrelated uses of the word."""
    return QueryTerms(weights={t: w for t, w in terms.weights.items() if t not in _REFERENCE_NOUNS},
                      unknown=terms.unknown)
