"""Sentence boundaries for Japanese and English text, as character spans into the original string.

Spans, not strings: every quote kiji shows must be ``raw[start:end]``, so nothing here ever rewrites
text. Boundaries fall after 。．！？!? (and a period that ends an English sentence), swallow closing
brackets and quotes that follow the terminator (」』）"), and at line breaks. A period between digits
(5.3%) or inside an abbreviation (U.S., e.g.) is not a boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Terminators that always end a sentence in Japanese writing (full- and half-width forms).
_HARD_TERMINATORS = "。．！？!?｡"
_CLOSERS = "」』）)］]】〉》〕｝}\"'”’"
_OPENERS = "「『（(［【〈《〔"
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "jr", "sr",
     "u.s", "u.k", "no", "fig", "approx", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
     "sept", "oct", "nov", "dec"}
)
_WORDISH = re.compile(r"\w")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_english_period_boundary(text: str, i: int) -> bool:
    """Decide whether ``text[i] == '.'`` ends an English sentence."""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    prev = text[i - 1] if i > 0 else ""
    if nxt.isdigit() and prev.isdigit():
        return False  # 5.3%, 1.5x
    if nxt and not nxt.isspace() and nxt not in _CLOSERS:
        return False  # www.example.org, v1.2, "U.S.A"
    match = _WORD_BEFORE.search(text[max(0, i - 12) : i])
    if match:
        word = match.group(1).lower().rstrip(".")
        if word in _ABBREVIATIONS or len(word) == 1:
            return False
    return True


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield ``(s, e)`` spans of sentences in ``text[start:end]``, stripped of surrounding space."""
    end = len(text) if end is None else end
    i = start
    seg_start = start
    depth = 0  # inside 「…」 a ？ or ！ belongs to the quoted speech, not a boundary
    while i < end:
        ch = text[i]
        boundary_after: int | None = None
        if ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS and depth:
            depth -= 1
            # 『終わり。』 ends a sentence when the quote itself ended with a terminator.
            if not depth and i > start and text[i - 1] in _HARD_TERMINATORS:
                j = i + 1
                while j < end and text[j] in _CLOSERS:
                    j += 1
                if not (j < end and "\u3041" <= text[j] <= "\u309f"):
                    span = _strip(text, seg_start, j)
                    if span:
                        yield span
                    seg_start = j
                i = j
                continue
        if ch == "\n":
            boundary_after = i
            depth = 0
        elif depth:
            pass
        elif ch in _HARD_TERMINATORS or (ch == "." and _is_english_period_boundary(text, i)):
            j = i + 1
            # Runs like "？！" or "..." stay with their sentence, then any closing brackets.
            while j < end and (text[j] in _HARD_TERMINATORS or text[j] == "."):
                j += 1
            closed = j
            while j < end and text[j] in _CLOSERS:
                j += 1
            # 「…だ。」と言った: a quoted sentence followed by particles continues the outer one.
            if j > closed and j < end and "\u3041" <= text[j] <= "\u309f":
                i = j
                continue
            boundary_after = j
        if boundary_after is not None:
            span = _strip(text, seg_start, boundary_after)
            if span:
                yield span
            seg_start = boundary_after
            i = max(boundary_after, i + 1)
            continue
        i += 1
    span = _strip(text, seg_start, end)
    if span:
        yield span


def _strip(text: str, s: int, e: int) -> tuple[int, int] | None:
    """Trim whitespace; a span of punctuation alone (a stray "。") is not a sentence."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e <= s or not _WORDISH.search(text, s, e):
        return None
    return (s, e)
