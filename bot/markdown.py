"""Discord Markdown for text that must be shown as it is written: lengths as Discord counts them,
escaping, and cutting to a limit without splitting a character.

* lengths are counted in UTF-16 code units (``dlen``), never fewer than Discord's own count, so an
  emoji-heavy title cannot slip past a limit;
* text is cut at a character boundary that does not split a combining mark, variation selector,
  skin-tone modifier or zero-width-joiner sequence, and marked with "…";
* Markdown characters are escaped with a backslash so Discord renders the article's characters as
  they are (``*`` stays ``*``, ``[a](b)`` is not turned into a link); ``unescape`` inverts it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

ELLIPSIS = "…"

_URL = re.compile(r"https?://\S+")
# Backslash-escaped anywhere; Discord hides a backslash before any ASCII punctuation.
_ALWAYS = set("\\*_~|`[]")
# Special only as the first non-space character of a line (quote, heading, list).
_LINE_START = set(">#-")
_ESCAPED = re.compile(r"\\([\\*_~|`\[\]>#\-])")


def dlen(text: str) -> int:
    """Length as Discord may count it: UTF-16 code units (>= code points, so always safe)."""
    return len(text.encode("utf-16-le")) // 2


def _extends_previous(ch: str) -> bool:
    cp = ord(ch)
    return (unicodedata.combining(ch) != 0 or ch == "\u200d" or 0xFE00 <= cp <= 0xFE0F
            or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F
            or unicodedata.category(ch) in {"Mn", "Me", "Mc"})


def safe_cut(text: str, n: int) -> int:
    """The largest boundary <= n that does not split a user-visible character."""
    n = max(0, min(n, len(text)))
    while 0 < n < len(text) and (_extends_previous(text[n]) or text[n - 1] == "\u200d"):
        n -= 1
    return n


def _escape_plain(text: str, line_start: bool) -> tuple[str, bool]:
    out: list[str] = []
    for ch in text:
        if ch in _ALWAYS or (line_start and ch in _LINE_START):
            out.append("\\")
        out.append(ch)
        if ch == "\n":
            line_start = True
        elif not ch.isspace():
            line_start = False
    return "".join(out), line_start


def escape(text: str) -> str:
    """Escape Markdown outside URLs (a backslash inside a URL would break the link)."""
    out: list[str] = []
    pos, line_start = 0, True
    for match in _URL.finditer(text):
        plain, _ = _escape_plain(text[pos:match.start()], line_start)
        out += [plain, match.group(0)]
        pos, line_start = match.end(), False
    out.append(_escape_plain(text[pos:], line_start)[0])
    return "".join(out)


def unescape(text: str) -> str:
    """Inverse of ``escape`` (outside URLs), for tests and for anyone reading payloads back."""
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        out.append(_ESCAPED.sub(r"\1", text[pos:match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_ESCAPED.sub(r"\1", text[pos:]))
    return "".join(out)


BOLD = "**"


def escape_marked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``escape(text)`` with ``spans`` (offsets into ``text``, sorted, disjoint) in bold: every
    ``*`` of the text itself is escaped, so an unescaped ``**`` is always one of these marks."""
    out: list[str] = []
    pos = 0
    for start, end in spans:
        start, end = max(start, pos), min(end, len(text))
        if end <= start:
            continue
        out += [escape(text[pos:start]), BOLD, escape(text[start:end]), BOLD]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def unmark(text: str) -> str:
    """``text`` without the bold marks ``escape_marked`` added (escaped pairs kept as they are)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
        elif text.startswith(BOLD, i):
            i += len(BOLD)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def fit(raw: str, limit: int, *, prefix: str = "", closing: str = "", cut_mark: str = ELLIPSIS,
        markdown: bool = True, bold: Sequence[tuple[int, int]] = ()) -> str:
    """``prefix + escape(raw) + closing`` if it fits in ``limit``, else the longest
    ``prefix + escape(raw[:n]) + closing + cut_mark`` that does (n at a safe boundary); ``bold``:
    spans of ``raw`` shown in bold (cut with it)."""
    esc = (lambda s: escape_marked(s, bold)) if markdown and bold else escape if markdown else (lambda s: s)
    whole = prefix + esc(raw) + closing
    if dlen(whole) <= limit:
        return whole
    budget = limit - dlen(prefix) - dlen(closing) - dlen(cut_mark)
    if budget < 0:
        raise ValueError(f"limit {limit} too small for the markers")
    lo, hi = 0, len(raw)  # escaped length grows with n: binary search the largest n that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if dlen(esc(raw[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    n = safe_cut(raw, lo)
    return prefix + esc(raw[:n]) + closing + cut_mark
