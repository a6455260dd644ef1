"""Katakana spelling helpers shared by the bridge and the coverage check: a loose spelling key and
one-edit comparisons, for names that authors and e2k render slightly differently (ヴァ/バ, ー)."""

from __future__ import annotations

import re
from collections.abc import Iterator

#: A whole term in katakana (with the long mark and the middle dot).
KATAKANA_WORD = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb]+$")

# Kana that authors and e2k spell interchangeably; mapped together before comparing.
_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_KANA_FOLD = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴ": "ブ", "ヂ": "ジ", "ヅ": "ズ"}
_KANA_FOLD_RE = re.compile("|".join(sorted(_KANA_FOLD, key=len, reverse=True)))


def kana_key(term: str) -> str:
    """Loose katakana spelling: no long marks or middle dots, small kana as large, ヴ as ブ."""
    term = _KANA_FOLD_RE.sub(lambda m: _KANA_FOLD[m.group()], term)
    return term.replace("ー", "").replace("・", "").replace("ヽ", "").translate(_SMALL_KANA)


def deletions(key: str) -> Iterator[str]:
    for i in range(len(key)):
        yield key[:i] + key[i + 1 :]


#: Keys shorter than this are not matched across a replaced kana: in a word of four kana, one kana
#: replaced is too often another word (ミリオン is million, not ビリオン; フラット is flat, not
#: ファット), while names e2k renders a kana off are longer (オルトマン/オットマン, ジェンセン/イエンセン).
REPLACE_MIN_KANA = 5


def edit_distance_le1(a: str, b: str) -> bool:
    """Keys (``kana_key``) at most one kana apart: one added or dropped, or one replaced in keys
    of ``REPLACE_MIN_KANA`` kana or more."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        return la >= REPLACE_MIN_KANA and sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]
