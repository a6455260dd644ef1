"""The answer's own words: built only from quotes and titles, so it states no fact they do not hold."""

from __future__ import annotations

import re

from kiji.retrieval.models import Language, Quote

_FIGURE = re.compile(r"[0-9０-９][0-9０-９,.，．]*\s*(%|％|ドル|億|兆|万|円|billion|million|人|台|年|月|日)?")


def _figures(text: str) -> set[str]:
    return {m.group(0).replace(",", "").replace("，", "") for m in _FIGURE.finditer(text)
            if m.group(1) in {"%", "％"}}


def sources_differ(quotes: list[Quote]) -> bool:
    """Two or more articles quoted, each with percentages, and the percentages disagree."""
    by_article: dict[str, set[str]] = {}
    for q in quotes:
        figures = _figures(q.text)
        if figures:
            by_article.setdefault(q.article_id, set()).update(figures)
    if len(by_article) < 2:
        return False
    sets = list(by_article.values())
    return any(a != b for a in sets for b in sets)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


NOT_FOUND: dict[Language, str] = {
    "ja": "記事の中に、この質問に答える記述は見つかりませんでした。",
    "en": "The articles don't cover this: I found no passage that answers the question.",
}


def compose(language: Language, quotes: list[Quote], *, answered: bool, differ: bool,
            margin: float | None = None) -> str:
    """A short answer built only from quotes and titles, so it states no fact they do not hold: the
    first quote, and the first of each other article's while its score is within ``margin`` of the
    best (all of them when the sources differ, or without a margin). A weaker quote is still shown
    beneath; it does not speak in the answer as if it were as sure as the first."""
    if not answered or not quotes:
        return NOT_FOUND[language]
    lines = []
    seen: set[str] = set()
    floor = quotes[0].score - margin if margin is not None and not differ else float("-inf")
    for i, q in enumerate(quotes):
        if i > 0 and (q.article_id in seen or q.score < floor):
            continue
        seen.add(q.article_id)
        if language == "ja":
            lines.append(("記事" if i == 0 else "また、記事") + f"「{q.title}」によると、「{_clip(q.text)}」とあります。")
        else:
            lines.append(("According to" if i == 0 else "Also, according to")
                         + f" “{q.title}”: “{_clip(q.text)}”")
    if differ:
        lines.append("なお、記事によって数字が異なります。" if language == "ja"
                     else "Note that the sources give different figures.")
    return "\n".join(lines)


def weaker_marked(quotes: list[Quote], margin: float | None) -> list[Quote]:
    """``quotes`` with ``also_relevant`` set on those the answer does not speak for: below the
    first by more than ``margin`` (none when the sources differ: each then stands for its own
    figure). The same line ``compose`` draws, so the page's "also relevant" and the composed
    answer agree."""
    if margin is None or not quotes:
        return quotes
    floor = quotes[0].score - margin
    return [q.model_copy(update={"also_relevant": True}) if i and q.score < floor else q
            for i, q in enumerate(quotes)]


_LATIN_NAME = re.compile(r"\b[A-Z][A-Za-z0-9+]*[A-Za-z0-9]\b")
_NOT_NAMES = frozenset({"ai", "the", "and", "or", "of", "in", "on", "is", "vs"})


def example_questions(language: Language, title: str) -> list[str]:
    """Questions about one article, in the order tried, for the help reply's examples; the engine
    keeps only those it answers."""
    short = _clip(title, 60)
    if language == "ja":
        return [f"「{short}」には何が書かれていますか?", f"「{short}」の要点は?"]
    # A Japanese title inside an English question makes it read as Japanese: ask about the names
    # the title writes in Latin letters instead (DeepSeek, Stargate, NVIDIA).
    names = [n for n in dict.fromkeys(_LATIN_NAME.findall(title)) if n.lower() not in _NOT_NAMES]
    latin_title = not any(ord(ch) > 0x2FFF for ch in title)
    return ([f"What does “{short}” say?"] if latin_title else []) + [f"What is {n}?" for n in names]


def help_answer(language: Language, examples: list[str]) -> str:
    """What kiji answers, with example questions drawn from the articles at hand (for input that
    asks nothing: a greeting, emoji, an instruction to the bot)."""
    if language == "ja":
        lines = ["記事の内容についての質問に、記事からの引用で答えます。" + ("例えば:" if examples else "")]
        lines += [f"・{q}" for q in examples]
    else:
        lines = ["I answer questions about the articles, quoting them." + (" For example:" if examples else "")]
        lines += [f"- {q}" for q in examples]
    return "\n".join(lines)
