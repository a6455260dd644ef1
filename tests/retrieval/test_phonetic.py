"""Phonetic keys and distances for names across scripts (no tokenizer, no dictionaries)."""

from __future__ import annotations

import pytest

from kiji.retrieval.lexical.names import PhoneticIndex, accent_folded, name_parts
from kiji.retrieval.lexical.phonetic import (
    allowance,
    distance,
    english_key,
    katakana_key,
    same_start,
    skeleton,
)
from kiji.retrieval.lexical.romaji import katakana_to_romaji


@pytest.mark.parametrize(("kana", "romaji"), [
    ("マーカス", "maakasu"),
    ("スティーブ・ジョブズ", "sutiibu jobuzu"),  # ティ is ti, not te-i; ・ separates words
    ("ファーウェイ", "faawei"),  # ファ fa, ウェ we
    ("シェイクスピア", "sheikusupia"),
    ("チェーホフ", "cheehofu"),
    ("ヴィクトリア", "vikutoria"),
    ("キャット", "kyatto"),  # ッ doubles the consonant after it
    ("マッチ", "matchi"),
    ("デュポン", "dyupon"),
    ("クァルテット", "kwarutetto"),
    ("イェール", "yeeru"),
    ("ッー", ""),  # marks with nothing to act on
])
def test_katakana_to_romaji(kana: str, romaji: str) -> None:
    assert katakana_to_romaji(kana) == romaji


def _near(english: str, kana: str) -> bool:
    a, b = english_key(english), katakana_key(kana)
    return same_start(a, b) and distance(a, b) <= allowance(a, b)


@pytest.mark.parametrize(("english", "kana"), [
    # Names nobody listed: the spelling alone reaches the katakana (e2k's rendering is compared
    # too, in the bridge).
    ("Marcus", "マーカス"), ("Gary", "ゲイリー"), ("Gary", "ゲーリー"), ("Nokia", "ノキア"),
    ("Anthropic", "アンソロピック"), ("Washington", "ワシントン"), ("Hemingway", "ヘミングウェイ"),
    ("Sutskever", "サツケバー"), ("Kissinger", "キッシンジャー"), ("Microsoft", "マイクロソフト"),
    ("Pichai", "ピチャイ"), ("Sundar", "スンダー"), ("Buffett", "バフェット"),
    ("Disney", "ディズニー"), ("Gates", "ゲイツ"), ("Kubernetes", "クバネティス"),
    ("Zuckerberg", "ザッカーバーグ"), ("Kowalski", "コワルスキー"), ("Ray", "レイ"),
])
def test_names_sound_alike(english: str, kana: str) -> None:
    assert _near(english, kana), (english_key(english), katakana_key(kana))


@pytest.mark.parametrize(("english", "kana"), [
    # Different words that a loose comparison would confuse: a consonant more or less, another
    # consonant, or another first sound.
    ("Hinton", "ヒント"), ("Marcus", "マーク"), ("Mark", "マーカス"), ("Sundar", "サンダル"),
    ("Gates", "ゲート"), ("Lisa", "リサイクル"), ("Modi", "モデル"), ("Bezos", "ベース"),
    ("Nairobi", "ナイロン"), ("Powell", "パワー"), ("Tesla", "テスト"), ("Palantir", "パラシュート"),
    ("Washington", "ワシ"), ("Karpathy", "カルパス"), ("Nokia", "ノック"),
])
def test_different_words_do_not(english: str, kana: str) -> None:
    assert not _near(english, kana), (english_key(english), katakana_key(kana))


def test_short_words_need_the_same_syllables() -> None:
    # cat is キャット, not カット: a glide after a consonant changes the syllable.
    assert distance(katakana_key("キャット"), katakana_key("カット")) > allowance("kyato", "kato")
    assert skeleton(english_key("washington")) == skeleton(katakana_key("ワシントン"))


def test_index_finds_the_closest_spelling_only() -> None:
    index = PhoneticIndex(["ゲイツ", "ゲート", "ヒント", "マーカス"], katakana_key)
    assert [m.terms for m in index.match([english_key("Gates")])] == [("ゲイツ",)]
    assert index.match([english_key("Hinton")]) == []
    best = index.match([english_key("Marcus")])[0]
    assert best.terms == ("マーカス",) and 0.5 <= best.closeness <= 1.0


def test_index_joins_two_terms_the_tokenizer_split() -> None:
    # データブリックス in the articles, tokenised as データ + ブリックス.
    index = PhoneticIndex(["データ", "ブリックス", "セールス", "フォース", "ハード", "ブロイ", "ダッシュ"],
                          katakana_key)
    databricks = katakana_key("データブリックス")  # as e2k renders it
    assert index.match([databricks]) == []
    split = index.match_split([databricks])
    assert [m.terms for m in split] == [("データ", "ブリックス")]
    assert split[0].closeness == 1.0
    # e2k's rendering of Salesforce, spelt by two vocabulary terms.
    assert [m.terms for m in index.match_split([katakana_key("セールスフォース")])] == [
        ("セールス", "フォース")]
    assert index.match_split([english_key("Harvard")]) == []  # too short to split
    assert index.match_split([english_key("British")]) == []  # not nearly ブロイ + ダッシュ


def test_index_finds_a_name_by_one_of_its_words() -> None:
    index = PhoneticIndex(["マルコ・ポーロ", "ポロシャツ"], katakana_key, name_parts)
    assert [m.terms for m in index.match([english_key("Polo")])] == [("マルコ・ポーロ",)]
    assert name_parts("ドナルド・トランプ") == ["ドナルド", "トランプ"]
    assert name_parts("トランプ") == []


def test_accent_folding() -> None:
    folded = accent_folded(["hervé", "schrödinger", "plain", "東京"])
    assert folded == {"herve": "hervé", "schrodinger": "schrödinger"}
