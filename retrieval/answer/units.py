"""The unit a quantity question asks in, and whether a sentence states it.

"梁文峰さんは何歳?" wants an age, "how many gigawatts…?" gigawatts, "…はいくら?" an amount of money.
A sentence about the right entity that states no such quantity is the loosely related quote an
out-of-corpus question gets (the corpus knows the entity, never the attribute asked). The answer
type (``answer_types``) says only "a number"; the unit says which number. Like the answer types,
the patterns are about the two languages, not any corpus; whether a missing unit means "decline" is
for the fitted answer model to weigh.

A unit is either a fixed set of spellings (money, a percentage, an age) or a word taken from the
question (何兆**トークン**, how many **experts**), looked for in the sentence as written and through
the lexical side's translations of it (experts → 専門家 over Japanese text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MONEY = ("円", "ドル", "$", "＄", "dollar", "yen", "ユーロ", "euro", "元", "£", "pound", "€")
PERCENT = ("%", "％", "パーセント", "percent")
AGE = ("歳", "years old", "year-old", "aged")
_PERCENT_OR_AGE = frozenset(s.lower() for s in PERCENT + AGE)

_MONEY_ASKED = re.compile(
    r"いくら|何[円ドル]|"
    r"\bhow much (money|cash|funding|capital)\b|"
    r"\bhow much (does|did|do|will|would|is|was|are|were)\b[^?]*\b(cost|pay|charge|spend|raise|invest|earn|sell)|"
    r"\bwhat (is|was|are|were) [^?]*\b(price|cost|fee|salary|revenue|valuation)s?\b", re.IGNORECASE)
_PERCENT_ASKED = re.compile(r"何\s*[%％]|何パーセント|\bwhat percent(age)?\b|\bhow many percent\b|\bby how much\b",
                            re.IGNORECASE)
_AGE_ASKED = re.compile(r"何歳|\bhow old\b|\bat what age\b", re.IGNORECASE)
#: 何 + an optional numeral + a counter or a noun: 何兆トークン, 何人, 何台, 何時.
_JA_COUNTER = re.compile(r"何\s*[兆億万千百十]*\s*([\u30a1-\u30fa\u30fc]+|[A-Za-z]+|[\u4e00-\u9fff々]{1,2})")
_EN_HOW_MANY = re.compile(r"\bhow many ([a-z][a-z\-]+)", re.IGNORECASE)
#: Kanji after 何 that make "why", "who", "where", "what thing", not a counter.
_NOT_COUNTERS = frozenset({"故", "者", "処", "事", "物"})


@dataclass(frozen=True, slots=True)
class Unit:
    """Spellings to look for (lower-cased), and for a unit taken from the question, the word itself."""

    spellings: tuple[str, ...]
    word: str = ""


def asked_units(question: str) -> tuple[Unit, ...]:
    units: list[Unit] = []
    if _MONEY_ASKED.search(question):
        units.append(Unit(tuple(s.lower() for s in MONEY)))
    if _PERCENT_ASKED.search(question):
        units.append(Unit(tuple(s.lower() for s in PERCENT)))
    if _AGE_ASKED.search(question):
        units.append(Unit(tuple(s.lower() for s in AGE)))
    counter = _JA_COUNTER.search(question)
    if counter:
        word = counter.group(1)
        # 何% / 何歳 name a percent or an age even where the question's wording missed the regexes.
        covered = any(word.lower() in unit.spellings for unit in units) or word.lower() in _PERCENT_OR_AGE
        if word[0] not in _NOT_COUNTERS and not covered:
            units.append(Unit((word.lower(),), word))
    many = _EN_HOW_MANY.search(question)
    if many:
        word = many.group(1).lower()
        stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
        units.append(Unit((stem,), word))
    return tuple(units)


def unit_terms(units: Iterable[Unit], translate: Callable[[str], Iterable[str]]) -> tuple[frozenset[str], ...]:
    """Per unit, the corpus terms its word stands for (``translate``: the lexical side)."""
    return tuple(frozenset(translate(u.word)) if u.word else frozenset() for u in units)


def holds_units(units: tuple[Unit, ...], terms: tuple[frozenset[str], ...], text: str,
                tokens: frozenset[str]) -> bool:
    """Whether ``text`` (with its lexical ``tokens``) states every unit asked."""
    low = text.lower()
    # A translation is looked for in the text too: 従業員 is inside the token 従業員数.
    return all(any(s in low for s in unit.spellings) or bool(words & tokens)
               or any(len(w) >= 2 and w.lower() in low for w in words)
               for unit, words in zip(units, terms, strict=True))
