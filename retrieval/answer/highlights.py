"""What in a quote matched the question, as spans of the quote: every edge draws the same marks.

A quote is matched against the question's lexical terms, which already reach across scripts (the
English bridge turns "employees" into 従業員 and NVIDIA into エヌビディア; a Japanese question's
アンソロピック reaches Anthropic), and against figures: the ones the question gives, and every
figure and date of the quote when the question asks for one ("How much did TSMC fall?" marks
4.5%). Matching is on the NFKC, case-folded text, with a map back to the quote's own offsets, so
ＮＶＩＤＩＡ in full width is marked like NVIDIA and a span always slices the verbatim quote.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from kiji.retrieval.answer.figures import Figure, figures, supported

#: Terms under this weight are loose (a lemma's other forms, a gloss's minor word): marking them
#: would light up half a sentence. 0.6 is the line the answer signals draw for confident terms.
MIN_TERM_WEIGHT = 0.6
_HIRAGANA = re.compile(r"^[\u3041-\u309f\u30fc]+$")
_WORDLIKE = re.compile(r"[0-9a-z]")

Span = tuple[int, int]


def folded(text: str) -> tuple[str, list[int]]:
    """``text`` NFKC-normalised and case-folded, and for each of its characters the offset in
    ``text`` of the character it came from (one more entry: ``len(text)``, for span ends)."""
    if unicodedata.is_normalized("NFKC", text):
        flat = text.casefold()
        if len(flat) == len(text):  # the usual case, ~20x faster than character by character
            return flat, [*range(len(text) + 1)]
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        piece = unicodedata.normalize("NFKC", ch).casefold() if not ch.isascii() else ch.lower()
        out.append(piece)
        where.extend([i] * len(piece))
    where.append(len(text))
    return "".join(out), where


def markable(term: str) -> bool:
    """Whether a term is worth a mark: not a particle-like run of one or two hiragana, not one
    Latin letter or digit."""
    if not term or term.isspace():
        return False
    if _HIRAGANA.match(term):
        return len(term) >= 3
    if term.isascii():
        return len(term) >= 2
    return True


def _find_all(haystack: str, needle: str) -> Iterable[Span]:
    latin = bool(_WORDLIKE.match(needle[0])) and needle.isascii()
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        # A Latin term is a whole word: "ai" is not marked inside "said".
        if not latin or ((start == 0 or not haystack[start - 1].isalnum() or not haystack[start - 1].isascii())
                         and (end == len(haystack) or not haystack[end].isalnum()
                              or not haystack[end].isascii())):
            yield start, end
        start = haystack.find(needle, start + 1)


def _figure_spans(flat: str, found: list[Figure]) -> Iterable[tuple[Span, Figure]]:
    cursor = 0
    for fig in found:
        needle = fig.text.casefold()
        if not needle:
            continue
        at = flat.find(needle, cursor)
        if at < 0:
            at = flat.find(needle)  # month names come after the numbers
        if at >= 0:
            yield (at, at + len(needle)), fig
            if fig.kind != "month" or fig.text[:1].isdigit():
                cursor = at + len(needle)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping or touching spans joined."""
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def highlight_spans(text: str, terms: Iterable[str], *, every_figure: bool,
                    question_figures: Iterable[Figure] = ()) -> list[Span]:
    """Spans of ``text`` (offsets into it) holding one of ``terms`` or a figure: every figure when
    ``every_figure`` (the question asks for a quantity or a date), else those the question gives."""
    flat, where = folded(text)
    spans: list[Span] = []
    for term in {t.casefold() for t in terms if markable(t)}:
        for s, e in _find_all(flat, unicodedata.normalize("NFKC", term)):
            spans.append((s, e))
    asked = list(question_figures)
    for span, fig in _figure_spans(flat, figures(flat)):
        if every_figure or (asked and supported(fig, asked)):
            spans.append(span)
    # Back to the quote's offsets; a span never ends inside a character that NFKC expanded.
    mapped = [(where[s], where[e - 1] + 1) for s, e in spans if e > s]
    return merge(mapped)


def strong_terms(weights: dict[str, float]) -> list[str]:
    """The question's confident terms (its own words and their translations), markable ones."""
    return [t for t, w in weights.items() if w >= MIN_TERM_WEIGHT and markable(t)]


def matched_terms(text: str, terms: Iterable[str]) -> list[str]:
    """The ``terms`` that ``text`` holds (as ``highlight_spans`` finds them)."""
    flat, _ = folded(text)
    return [t for t in terms if any(True for _ in _find_all(flat, unicodedata.normalize("NFKC", t.casefold())))]
