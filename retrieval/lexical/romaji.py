"""Katakana → romaji, written for names and loanwords (マーカス → maakasu, スティーブ → sutiibu).

Hepburn for the plain kana, and the foreign-sound digraphs that names are full of read as they
sound (ティ ti, ディ di, ファ fa, ウィ wi, ウェ we, ウォ wo, シェ she, ジェ je, チェ che, ヴァ va,
クァ kwa, テュ tyu). pykakasi (checked: on PyPI, pure Python) spells those letter by letter
(スティーブ → "suteiibu", ウェ → "ue", シェ → "shie") and takes 0.4 s to import; katakana has no
ambiguity a dictionary would resolve, so a closed table does the job exactly.
"""

from __future__ import annotations

_BASE = {
    "ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o",
    "カ": "ka", "キ": "ki", "ク": "ku", "ケ": "ke", "コ": "ko",
    "ガ": "ga", "ギ": "gi", "グ": "gu", "ゲ": "ge", "ゴ": "go",
    "サ": "sa", "シ": "shi", "ス": "su", "セ": "se", "ソ": "so",
    "ザ": "za", "ジ": "ji", "ズ": "zu", "ゼ": "ze", "ゾ": "zo",
    "タ": "ta", "チ": "chi", "ツ": "tsu", "テ": "te", "ト": "to",
    "ダ": "da", "ヂ": "ji", "ヅ": "zu", "デ": "de", "ド": "do",
    "ナ": "na", "ニ": "ni", "ヌ": "nu", "ネ": "ne", "ノ": "no",
    "ハ": "ha", "ヒ": "hi", "フ": "fu", "ヘ": "he", "ホ": "ho",
    "バ": "ba", "ビ": "bi", "ブ": "bu", "ベ": "be", "ボ": "bo",
    "パ": "pa", "ピ": "pi", "プ": "pu", "ペ": "pe", "ポ": "po",
    "マ": "ma", "ミ": "mi", "ム": "mu", "メ": "me", "モ": "mo",
    "ヤ": "ya", "ユ": "yu", "ヨ": "yo",
    "ラ": "ra", "リ": "ri", "ル": "ru", "レ": "re", "ロ": "ro",
    "ワ": "wa", "ヰ": "i", "ヱ": "e", "ヲ": "o", "ン": "n",
    "ヴ": "vu", "ヷ": "va", "ヸ": "vi", "ヹ": "ve", "ヺ": "vo",
    # small kana standing alone (no consonant before them to combine with)
    "ァ": "a", "ィ": "i", "ゥ": "u", "ェ": "e", "ォ": "o",
    "ャ": "ya", "ュ": "yu", "ョ": "yo", "ヮ": "wa", "ヵ": "ka", "ヶ": "ke",
}
_SMALL_VOWEL = {"ァ": "a", "ィ": "i", "ゥ": "u", "ェ": "e", "ォ": "o"}
_SMALL_Y = {"ャ": "a", "ュ": "u", "ョ": "o"}
#: Consonants written without the y glide before ャュョ: シャ sha, チャ cha, ジャ ja.
_NO_GLIDE = ("sh", "ch", "j")
_VOWELS = frozenset("aeiou")


def _onset(romaji: str) -> str:
    return romaji[:-1] if romaji and romaji[-1] in _VOWELS else romaji


def _combine(kana: str, small: str) -> str | None:
    """A kana followed by a small kana as one syllable, or None when they do not combine."""
    base = _BASE.get(kana)
    if base is None or base == "n" or base in _VOWELS and kana not in ("ウ", "イ"):
        return None
    if small in _SMALL_Y:
        onset = _onset(base)
        if not onset:
            return None
        return onset + ("" if onset in _NO_GLIDE else "y") + _SMALL_Y[small]
    if small in _SMALL_VOWEL:
        vowel = _SMALL_VOWEL[small]
        if kana == "ウ":
            return "w" + vowel if vowel != "u" else "u"  # ウィ wi, ウェ we, ウォ wo
        if kana == "イ":
            return "y" + vowel if vowel == "e" else None  # イェ ye
        if kana in ("ク", "グ"):
            return _onset(base) + "w" + vowel  # クァ kwa, グォ gwo
        return _onset(base) + vowel  # ティ ti, ファ fa, シェ she, ヴァ va, ツァ tsa, トゥ tu
    return None


def katakana_to_romaji(text: str) -> str:
    """Romaji of a katakana string; ー lengthens the vowel before it, ッ doubles the consonant
    after it, ・ and spaces become one space, anything else is dropped."""
    out: list[str] = []
    geminate = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "・ \u3000":
            if out and out[-1] != " ":
                out.append(" ")
            geminate = False
            i += 1
            continue
        if ch == "ッ":
            geminate = True
            i += 1
            continue
        if ch == "ー":
            last = "".join(out).rstrip()
            if last and last[-1] in _VOWELS:
                out.append(last[-1])
            i += 1
            continue
        syllable = None
        if i + 1 < n:
            syllable = _combine(ch, text[i + 1])
        if syllable is not None:
            i += 2
        else:
            syllable = _BASE.get(ch)
            i += 1
            if syllable is None:
                continue
        if geminate and syllable[0] not in _VOWELS and syllable != "n":
            syllable = ("t" if syllable.startswith("ch") else syllable[0]) + syllable
        geminate = False
        out.append(syllable)
    return "".join(out).strip()
