"""Links into the original page at a quote: a URL text fragment (``#:~:text=start,end``) that
browsers scroll to and highlight. Chromium, Edge and Safari follow it; others open the page top."""

from __future__ import annotations

import re
from urllib.parse import quote as _percent

_SPACE = re.compile(r"\s+")
#: Up to this many characters a quote is matched whole (``text=``); longer ones by their first and
#: last words (``text=start,end``), which survives the page's own line breaks and markup inside.
_WHOLE = 80
_EDGE_WORDS = 5
#: Japanese has no spaces: the edges are about this many characters, cut where a word is likely to
#: end (browsers match a fragment's edges at word boundaries): after punctuation, or where kana
#: meets kanji, katakana or Latin (a particle ends, a new word begins).
_EDGE_CHARS = 12
_EDGE_SPAN = (6, 20)
_PUNCT = set("、。，．！？・「」『』（）")


def _kind(ch: str) -> str:
    if "\u3040" <= ch <= "\u309f":
        return "hiragana"
    if "\u30a0" <= ch <= "\u30ff":
        return "katakana"
    if "\u4e00" <= ch <= "\u9fff" or ch in "々〆":
        return "kanji"
    return "punct" if ch in _PUNCT else "other"


def _boundary(text: str, i: int) -> bool:
    before, after = _kind(text[i - 1]), _kind(text[i])
    return before == "punct" or (before == "hiragana" and after != "hiragana")


def _head(text: str) -> str:
    low, high = _EDGE_SPAN
    for i in range(low, min(high, len(text) - 1)):
        if _boundary(text, i):
            return text[:i]
    return text[:_EDGE_CHARS]


def _tail(text: str) -> str:
    low, high = _EDGE_SPAN
    for n in range(low, min(high, len(text) - 1)):
        if _boundary(text, len(text) - n):
            return text[-n:]
    return text[-_EDGE_CHARS:]


def _encode(part: str) -> str:
    # '-', ',' and '&' mean something inside a text directive: they are percent-encoded too.
    return _percent(part, safe="").replace("-", "%2D")


def text_fragment(text: str) -> str:
    """``:~:text=…`` for ``text`` (whitespace collapsed, as the browser sees rendered text)."""
    flat = _SPACE.sub(" ", text).strip()
    if len(flat) <= _WHOLE:
        return f":~:text={_encode(flat)}"
    words = flat.split(" ")
    if len(words) >= 2 * _EDGE_WORDS + 1:
        start, end = " ".join(words[:_EDGE_WORDS]), " ".join(words[-_EDGE_WORDS:])
    else:
        start, end = _head(flat).strip(), _tail(flat).strip()
    return f":~:text={_encode(start)},{_encode(end)}"


def source_link(url: str | None, text: str) -> str | None:
    """The article's URL (an http(s) one only) with a text fragment for ``text``; its own fragment,
    if any, is replaced."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    return f"{url.split('#', 1)[0]}#{text_fragment(text)}"
