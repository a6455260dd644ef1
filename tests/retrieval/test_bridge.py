"""English -> Japanese bridge over a small hand-made vocabulary (JMdict and e2k are local data)."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from kiji.retrieval.lexical.bridge import EnglishBridge, kana_key, lemma_candidates
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer

VOCAB = frozenset({
    # katakana names and loanwords
    "ノキア", "ブロードコム", "アンソロピック", "ソフトバンク", "データ", "センター", "データセンター",
    # Japanese words a dictionary can reach
    "下落", "発電所", "企業", "会社", "株価", "市場", "天気", "サッカー",
    # Latin terms as the tokenizer writes them
    "tsmc", "amd", "h800", "wework",
    # words that must never come back from English function words
    "the", "what", "何",
})

QUESTIONS = [
    "why is nokia mentioned?", "did broadcom fall?", "what about anthropic?",
    "How much did TSMC fall?", "what does it involve? like power plants?",
    "what GPUs replaced the H800?", "which companies are in it?", "data centers",
    "when did wework go under?", "did AMD drop too?", "how do i fix a flat bike tire",
]


@pytest.fixture(scope="module")
def bridge(tok: JapaneseTokenizer) -> EnglishBridge:
    return EnglishBridge(VOCAB, tok)


def test_katakana_rendering_matched(bridge: EnglishBridge) -> None:
    assert "ノキア" in bridge.expand("why is nokia mentioned?")
    assert "ブロードコム" in bridge.expand("did broadcom fall?")  # e2k, not in any dictionary
    # e2k writes アントロピック; the text has アンソロピック: one edit away, weaker than exact.
    near = bridge.expand("what about anthropic?")
    assert 0 < near.get("アンソロピック", 0) < bridge.expand("did broadcom fall?")["ブロードコム"]


def test_tolerant_kana_key() -> None:
    assert kana_key("サーバー") == kana_key("サーバ")
    assert kana_key("ヴィジョン") == kana_key("ビジョン")
    assert kana_key("イーロン・マスク") == kana_key("イーロンマスク")


def test_jmdict_translation(bridge: EnglishBridge) -> None:
    fall = bridge.expand("How much did TSMC fall?")
    assert {"tsmc", "下落"} <= set(fall)
    assert "発電所" in bridge.expand("what does it involve? like power plants?")  # phrase gloss
    companies = bridge.expand("which companies are in it?")  # plural lemmatised
    assert "企業" in companies or "会社" in companies
    assert "株価" in bridge.expand("what happened to stock prices")
    # 下落 is glossed "decline; fall", never "drop": reached through JMdict's co-glosses.
    assert "下落" in bridge.expand("did AMD drop too?")
    # Two adjacent words whose katakana forms make a vocabulary compound.
    assert "データセンター" in bridge.expand("data centers")


def test_latin_terms_pass_through(bridge: EnglishBridge) -> None:
    got = bridge.expand("what GPUs replaced the H800?")
    assert got.get("h800") == 1.0
    assert bridge.expand("when did wework go under?").get("wework") == 1.0
    assert bridge.expand("did AMD drop too?").get("amd") == 1.0


def test_stop_words_dropped(bridge: EnglishBridge) -> None:
    got = bridge.expand("what is the")
    assert "the" not in got and "what" not in got and "何" not in got


def test_only_vocabulary_terms_returned(bridge: EnglishBridge) -> None:
    for q in QUESTIONS:
        got = bridge.expand(q)
        assert set(got) <= VOCAB, q
        assert all(0 < w <= 1.0 for w in got.values()), q
    assert bridge.expand("how do i fix a flat bike tire").keys().isdisjoint({"天気", "サッカー"})


def test_lemma_candidates() -> None:
    assert "company" in dict(lemma_candidates("companies"))
    assert "plant" in dict(lemma_candidates("plants"))
    assert "fall" in dict(lemma_candidates("fell"))
    assert dict(lemma_candidates("drop"))["drop"] == 1.0


def test_expand_never_touches_sqlite(bridge: EnglishBridge,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("expand opened a database")

    monkeypatch.setattr(sqlite3, "connect", refuse)
    assert "下落" in bridge.expand("How much did TSMC fall?")


def test_expand_from_many_threads(bridge: EnglishBridge) -> None:
    expected = [bridge.expand(q) for q in QUESTIONS]
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(bridge.expand, QUESTIONS * 3))
    assert got == expected * 3
