"""What a question takes as given that the quoted sentences must also say: its numbers, its negation.

"What was the objective of the Royal Proclamation of 1736?" over a text about the Proclamation of
1763, or "Who did not charter the company?" over "…was chartered by Queen Elizabeth": the passage is
the right one, the question is not about it. A question's own figure (a year, a count, a stage
number) that none of the best sentences states, and a negated question whose best sentences state
nothing negative, are evidence that the articles do not answer it. In training, 4 of 498 answerable
questions against 15 of 185 unanswerable ones had such a figure, and no answerable question was an
unmatched negation. The patterns are about the two languages, not any corpus; the fitted answer
model decides how much they count.
"""

from __future__ import annotations

import re
import unicodedata

_NUMBER = re.compile(r"(?<![0-9.,])[0-9][0-9,]*(?:\.[0-9]+)?(?![0-9])")
_NEGATION_EN = re.compile(r"\b(?:not|never|no longer|neither|nor)\b|n't\b", re.IGNORECASE)
#: A Japanese question is negated by its predicate: しなかった?, できないの?, ありませんか?
#: Not かもしれない (hedging) nor じゃない/ではない? asked for agreement ("isn't it?").
_NEGATED_JA_QUESTION = re.compile(
    r"(?<!しれ)(?<!じゃ)(?<!では)(?:ない|なかった|ません|ず)(?:の|のか|のです|んです|ですか|か|よね)?[?？。]?\s*$")
_NEGATION_JA = re.compile(r"ない|なかった|ません|ず[、。にもとの]|ではなく|じゃない")


def numbers_in(text: str) -> frozenset[str]:
    """The figures written in digits (full-width too), thousands separators dropped."""
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(unicodedata.normalize("NFKC", text)))


def question_negated(question: str) -> bool:
    text = unicodedata.normalize("NFKC", question).strip()
    return bool(_NEGATION_EN.search(text) or _NEGATED_JA_QUESTION.search(text))


def states_negation(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text)
    return bool(_NEGATION_EN.search(text) or _NEGATION_JA.search(text))
