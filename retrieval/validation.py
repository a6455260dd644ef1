"""The rules for a question and for how many results to return, in one place.

The engine applies them to every call; the edges (CLI options, the API's published schema, the bot's
command options) use the same constants and checks so that they refuse exactly what the engine would.
"""

from __future__ import annotations

import re

from kiji.errors import InvalidInput

#: Quotes an answer may show (``top_k``), and the default.
MAX_TOP_K = 10
DEFAULT_TOP_K = 3
#: Passages ``search`` may return.
MAX_SEARCH_K = 50
#: Longest question accepted by default (``KIJI_MAX_QUESTION_CHARS``).
MAX_QUESTION_CHARS = 1000

#: Blank means only whitespace (in Python's sense or JSON Schema's, which adds U+FEFF), control
#: characters (C0, DEL, C1: ``?q=%00`` is not a query) and U+FFFD (what undecodable bytes in a URL
#: become), so the API's published pattern and this check agree on every string.
_BLANK = re.compile(r"[\s\ufeff\ufffd\x00-\x1f\x7f-\x9f]*")
NOT_BLANK_PATTERN = r"[^\s\u0000-\u001f\u007f-\u009f\ufeff\ufffd]"
#: How much of an unknown id an error message repeats (a 404 must not echo kilobytes back).
ECHO_CHARS = 64


def is_blank(text: str) -> bool:
    return _BLANK.fullmatch(text) is not None


def echo(value: str, limit: int = ECHO_CHARS) -> str:
    """``value`` for an error message: quoted, and cut to ``limit`` characters."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value)} characters)"


def validate_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise InvalidInput("the question must be a string")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: undecodable bytes on the command line, or \udcff in JSON
        raise InvalidInput("the question is not valid UTF-8 text") from None
    if is_blank(question):
        raise InvalidInput("the question is empty")
    text = question.strip()
    if len(question) > max_chars:
        raise InvalidInput(f"the question is too long ({len(question)} characters; at most {max_chars})")
    return text


def validate_top_k(top_k: object, limit: int = MAX_TOP_K) -> int:
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= limit:
        raise InvalidInput(f"top_k must be an integer from 1 to {limit}")
    return top_k
