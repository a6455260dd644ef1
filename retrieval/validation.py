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

#: Blank means only whitespace, in Python's sense or JSON Schema's (which adds U+FEFF), so the API's
#: published pattern and this check agree on every string.
_BLANK = re.compile(r"[\s\ufeff]*")
NOT_BLANK_PATTERN = r"[^\s\u001c-\u001f\u0085\ufeff]"


def is_blank(text: str) -> bool:
    return _BLANK.fullmatch(text) is not None


def validate_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise InvalidInput("the question must be a string")
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
