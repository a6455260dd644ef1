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
_EDGE_CHARS = 12  # Japanese has no spaces: the first and last 12 characters stand for the edges


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
        start, end = flat[:_EDGE_CHARS].strip(), flat[-_EDGE_CHARS:].strip()
    return f":~:text={_encode(start)},{_encode(end)}"


def source_link(url: str | None, text: str) -> str | None:
    """The article's URL (an http(s) one only) with a text fragment for ``text``; its own fragment,
    if any, is replaced."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    return f"{url.split('#', 1)[0]}#{text_fragment(text)}"
