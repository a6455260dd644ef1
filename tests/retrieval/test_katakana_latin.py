"""Katakana question words that the articles write in Latin letters (グーグル → google): what
``CoverageChecker.latin_for`` and ``missing`` return, pinned on a small English corpus and on the
shipped corpus. Most of these are found only through e2k renderings of the corpus's Latin words
(the phonetic match alone misses them): アップル, オットマン, シアター..."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiji.retrieval.lexical.coverage import CoverageChecker
from kiji.retrieval.lexical.phonetic import katakana_key
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from tests.helpers import lexical_side

EN_ARTICLES = [
    "Apple and Google compete with Oracle in the cloud.",
    "Sam Altman met Jensen Huang at the theatre to discuss the schedule.",
    "WeWork leased the castle; Satya Nadella has led Microsoft since 2014.",
    "The treasure of the island was a feature of the old culture.",
]
SHIPPED = Path(__file__).resolve().parents[2] / "corpus" / "articles"


@pytest.fixture(scope="module")
def en(tok: JapaneseTokenizer) -> CoverageChecker:
    return lexical_side(tok, EN_ARTICLES)[1]


@pytest.fixture(scope="module")
def shipped(tok: JapaneseTokenizer) -> CoverageChecker:
    return lexical_side(tok, [p.read_text(encoding="utf-8") for p in sorted(SHIPPED.glob("*.txt"))])[1]


EN_EXPECTED = {
    "アップル": "apple", "グーグル": "google", "オラクル": "oracle", "ウィーワーク": "wework",
    "オットマン": "altman", "シアター": "theatre",
    "スケジュール": "schedule", "キャッスル": "castle", "トレジャー": "treasure",
    "フィーチャー": "feature", "カルチャー": "culture", "アイランド": "island",
    "ナデラ": "nadella", "マイクロソフト": "microsoft",
    "トヨタ": None, "ファースト": None, "ミリオン": None,
}
SHIPPED_EXPECTED = {
    "アップル": "apple", "グーグル": "google", "オラクル": "oracle", "ウィーワーク": "wework",
    "オットマン": "altman", "イエンセン": "jensen", "マイクロソフト": "microsoft",
    # four kana with one replaced are other words: first is not fat, million is not billion
    "ファースト": None, "ミリオン": None, "フラット": None,
    "シアター": None, "スケジュール": None, "ナデラ": None, "トヨタ": None, "アイランド": None,
}


@pytest.mark.parametrize(("katakana", "latin"), EN_EXPECTED.items())
def test_latin_for_on_an_english_corpus(en: CoverageChecker, katakana: str, latin: str | None) -> None:
    assert en.latin_for(katakana) == latin


def test_a_tie_between_two_renderings(en: CoverageChecker) -> None:
    # e2k writes both jensen and jensenhuang one kana from イエンセン: the closer by sound wins
    # (it was whichever came first in the vocabulary set's hash order).
    assert en.latin_for("イエンセン") == "jensen"


@pytest.mark.parametrize(("katakana", "latin"), SHIPPED_EXPECTED.items())
def test_latin_for_on_the_shipped_corpus(shipped: CoverageChecker, katakana: str,
                                         latin: str | None) -> None:
    assert shipped.latin_for(katakana) == latin


def test_some_words_are_found_only_through_e2k(en: CoverageChecker) -> None:
    """The fallback matters: sound alone does not find these (Apple is "apure" to the spelling key)."""
    sounds = en._phonetic().latin
    for katakana in ("アップル", "グーグル", "シアター", "スケジュール", "オットマン"):
        assert sounds.match([katakana_key(katakana)]) == [], katakana
        assert en.latin_for(katakana) is not None


@pytest.mark.parametrize(("question", "en_missing", "shipped_missing"), [
    ("アップルとトヨタの関係は?", ["トヨタ"], ["トヨタ"]),
    ("オットマンはシアターで何を話した?", [], ["シアター"]),
    ("ウィーワークのスケジュールは?", [], ["スケジュール"]),
])
def test_missing_terms(en: CoverageChecker, shipped: CoverageChecker, question: str,
                       en_missing: list[str], shipped_missing: list[str]) -> None:
    assert en.missing(question) == en_missing
    assert shipped.missing(question) == shipped_missing
