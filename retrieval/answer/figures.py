"""Figures in text — numbers with their units, percentages, amounts, dates — as comparable values.

Text is NFKC-normalised first (１２％ → 12%, ＄ → $, ② → 2). A figure is a number with what
qualifies it: a scale (万, 億, 兆, thousand, million, billion; k/m/b only after a currency sign), a
unit that changes its meaning (%, パーセント, percent; ドル/$/dollars, 円/¥/yen, 元/yuan, ユーロ/€/euros;
N月 and English month names as months), so that 1000億ドル, $100 billion and 100 billion dollars are
the same figure and 4.5% is not 4.5 million. Other units (人, 年, employees) do not change the value,
and a bare number in an answer is supported by the same number with any unit in a passage.

A short scale letter right after a number is a scale wherever it stands (10k, 1.5M, 3B, 2bn), so
"10k employees" is 10,000 and not a code. Invisible format characters (Unicode category Cf: bidi
overrides, zero-width spaces, soft hyphens) are removed first: "\u202e0002\u202c" is checked as the
"0002" it is, not shown as the "2000" a browser would draw.

Not figures: digits inside names and codes (H800, GPT-4o, o3-mini, 5G). Numbers written in words
(seventeen, 二百) are not recognised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_NUMBER = re.compile(r"(?<![A-Za-z0-9.,])(?<![A-Za-z]-)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
_CURRENCY_BEFORE = re.compile(r"(US\$|\$|¥|€)\s?$")
_JA_SCALE = re.compile(r"\s?([千万億兆])")
_EN_SCALE = re.compile(r"\s?(thousand|million|billion|trillion|bn|mn|tn)\b", re.IGNORECASE)
_SHORT_SCALE = re.compile(r"([kmbt])\b", re.IGNORECASE)
#: Without a currency sign only the unambiguous short scales: 10k, 1.5M, 3B, 2bn (not 5m: metres).
_BARE_SCALE = re.compile(r"(k|K|M|B|bn|mn)(?![A-Za-z0-9])")
_UNIT = re.compile(
    r"\s?(%|パーセント|per ?cent\b|ドル|円|元|ユーロ|dollars?\b|yen\b|yuan\b|euros?\b|usd\b|jpy\b|cny\b|rmb\b|"
    r"eur\b|[ヶか]月|ヵ月|カ月|月(?!間)|倍|times\b|x\b|(?:st|nd|rd|th)\b)", re.IGNORECASE)
_LATIN = re.compile(r"[A-Za-z]")
_MONTH_NAME = re.compile(
    r"\b(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b")
_MONTHS = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_SCALES = {"千": 1e3, "万": 1e4, "億": 1e8, "兆": 1e12, "thousand": 1e3, "million": 1e6,
           "billion": 1e9, "trillion": 1e12, "bn": 1e9, "mn": 1e6, "tn": 1e12,
           "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_KINDS = {"%": "percent", "パーセント": "percent", "percent": "percent", "per cent": "percent",
          "$": "USD", "us$": "USD", "ドル": "USD", "dollar": "USD", "dollars": "USD", "usd": "USD",
          "¥": "JPY", "円": "JPY", "yen": "JPY", "jpy": "JPY",
          "元": "CNY", "yuan": "CNY", "cny": "CNY", "rmb": "CNY",
          "€": "EUR", "ユーロ": "EUR", "euro": "EUR", "euros": "EUR", "eur": "EUR",
          "月": "month"}


@dataclass(frozen=True, slots=True)
class Figure:
    text: str  # as written (NFKC)
    value: float
    #: "number" (any plain count, year, day), or a kind a match must share: percent, USD, JPY,
    #: CNY, EUR, month.
    kind: str


def strip_invisible(text: str) -> str:
    """``text`` without invisible format characters (category Cf), which can make a browser draw
    other digits than the ones checked; ~0.1 µs a character."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", strip_invisible(text))


def figures(text: str) -> list[Figure]:
    """Every figure in ``text`` (NFKC-normalised here), in order."""
    text = normalise(text)
    found: list[tuple[int, int, float, str, float]] = []  # start, end, value, kind, scale
    for m in _NUMBER.finditer(text):
        value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        start, pos = m.start(), m.end()
        kind, scale = "number", 1.0
        currency = _CURRENCY_BEFORE.search(text, max(0, start - 4), start)
        if currency:
            kind, start = _KINDS[currency.group(1).lower()], currency.start()
        s = _JA_SCALE.match(text, pos) or _EN_SCALE.match(text, pos) or \
            (_SHORT_SCALE.match(text, pos) if currency else _BARE_SCALE.match(text, pos))
        if s:
            scale, pos = _SCALES[s.group(1).lower()], s.end()
        if u := _UNIT.match(text, pos):
            kind = _KINDS.get(u.group(1).lower(), kind)
            pos = u.end()
        elif pos < len(text) and _LATIN.match(text, pos):
            continue  # 5G, 4o, 3B without a currency: part of a name or code
        value *= scale
        if found and found[-1][1] == start and found[-1][4] > scale > 1.0:
            # 1兆2000億円 is one amount: merge it with the part before.
            p_start, _, p_value, p_kind, _ = found.pop()
            start, value, kind = p_start, p_value + value, kind if kind != "number" else p_kind
        found.append((start, pos, value, kind, scale))
    out = [Figure(text[s:e].strip(), v, k) for s, e, v, k, _ in found]
    for m in _MONTH_NAME.finditer(text):
        out.append(Figure(m.group(0), float(_MONTHS[m.group(1)[:3].lower()]), "month"))
    return out


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def supported(figure: Figure, pool: Iterable[Figure]) -> bool:
    """A figure is supported by one of the same value, and of the same kind unless it is a plain
    number (200 is supported by 200人; 4.5% only by a percentage of 4.5)."""
    return any(_same(figure.value, g.value) and figure.kind in ("number", g.kind) for g in pool)
