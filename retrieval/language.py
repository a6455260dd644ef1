"""Which language a question is in: Japanese if its grammar is Japanese, else English."""

from __future__ import annotations

import re

from kiji.retrieval.models import Language

_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_CJK_RUN = re.compile(r"[\u30a0-\u30ff\u4e00-\u9fff\u3400-\u4dbf\uff66-\uff9f]+")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str, default: Language = "en") -> Language:
    """Hiragana carries Japanese grammar (particles, endings), so it decides.

    Katakana or kanji alone may be a term quoted inside an English question ("what is 推論モデル?"),
    so without hiragana the question is Japanese only when such script outweighs English words.
    Text with neither script (😂, "?", "$100") is in no language: ``default`` (the engine passes its
    corpus's language, the one its readers most likely write in).
    """
    if _HIRAGANA.search(text):
        return "ja"
    runs = len(_CJK_RUN.findall(text))
    words = len(_LATIN_WORD.findall(text))
    if not runs and not words:
        return default
    return "ja" if runs >= words else "en"
