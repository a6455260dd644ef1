"""Japanese questions over English articles: JMdict glosses into the corpus's English words (real
JMdict and tokenizer; the articles below are not the shipped ones)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.lexical.japanese_bridge import JapaneseBridge
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from kiji.retrieval.search.candidates import retrieve
from tests.helpers import lexical_index

EN_ARTICLES = {
    "elections": "General elections in Scotland are usually held on a Thursday in May.",
    "astronauts": "Astronauts in orbit experience weightlessness because they are in free fall.",
    "harvest": "A poor harvest in Britain and a hard winter left the colony short of food. Prices fell as supply falls.",
    "court": "The Court of Justice decides whether a member state broke the treaties.",
}
JA_ARTICLES = {
    "選挙": "スコットランドの総選挙は通常5月の木曜日に行われる。",
    "宇宙": "軌道上の宇宙飛行士は無重力を体験する。",
}


def _vocabulary(tok: JapaneseTokenizer) -> set[str]:
    return {t for text in EN_ARTICLES.values() for t in tok.tokens(text)}


@pytest.fixture(scope="module")
def bridge(tok: JapaneseTokenizer) -> JapaneseBridge:
    return JapaneseBridge(_vocabulary(tok))


def test_dictionary_words_reach_the_corpus_english(bridge: JapaneseBridge) -> None:
    assert "elections" in bridge.translations("総選挙") or "elections" in bridge.translations("選挙")
    assert "astronauts" in bridge.translations("宇宙飛行士")
    assert "harvest" in bridge.translations("収穫")
    assert "thursday" in bridge.expand(["木曜日"]) or "thursday" in bridge.expand(["木曜"])
    assert bridge.translations("トヨタ") == {}  # no gloss that is a word of these articles
    assert bridge.expand(["h800", "2014"]) == {}  # Latin and numbers are the tokenizer's business


def test_one_form_of_a_word_is_confident_the_others_loose(bridge: JapaneseBridge) -> None:
    fall = bridge.translations("落ちる")
    assert fall.get("fall", 0) >= 0.6  # the form the dictionary writes
    assert 0 < fall.get("fell", 0) < 0.6 and 0 < fall.get("falls", 0) < 0.6
    # Where the corpus has one form only, that form is the confident one.
    assert bridge.expand(["決める"]).get("decides", 0) >= 0.6


def test_japanese_questions_find_english_articles(tmp_path: Path) -> None:
    lexical, index = lexical_index(tmp_path, EN_ARTICLES)
    assert lexical.has_english
    qvec = np.zeros(FakeEmbedder().dim, dtype=np.float32)  # no help from the dense side
    for question, key in [("総選挙は何曜日に行われる?", "elections"),
                          ("自由落下中の宇宙飛行士は何を体験する?", "astronauts"),
                          ("不作の後、植民地には何が足りなくなった?", "harvest")]:
        plain = lexical.terms(question, bridge=False)
        terms = lexical.terms(question, bridge=False, to_english=True)
        assert len(terms.weights) > len(plain.weights), question
        top = retrieve(index, qvec, terms, lexical, mode="lexical", k=1)
        assert index.chunks[top[0].chunk_id].article_id.startswith(key), question


def test_a_term_the_articles_hold_in_translation_is_not_missing(tmp_path: Path) -> None:
    lexical, _ = lexical_index(tmp_path, EN_ARTICLES)
    # イギリス does not sound like Britain; JMdict translates it.
    assert lexical.coverage.missing("イギリスの収穫はどうだった?") == []
    assert lexical.coverage.missing("トヨタの収穫はどうだった?") == ["トヨタ"]


def test_japanese_articles_are_left_alone(tmp_path: Path) -> None:
    lexical, _ = lexical_index(tmp_path, JA_ARTICLES)
    assert not lexical.has_english
    question = "総選挙は何曜日に行われる?"
    assert lexical.terms(question, bridge=False, to_english=True) == lexical.terms(question, bridge=False)


def test_concurrent_lookups_agree(tok: JapaneseTokenizer) -> None:
    vocab = _vocabulary(tok)
    fresh = JapaneseBridge(vocab)  # nothing cached: every thread may open its own connection
    questions = ["総選挙は何曜日?", "宇宙飛行士は何を体験する?", "イギリスの収穫は?", "裁判所は何を決める?"] * 8
    tokens = [tok.tokens(q) for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fresh.expand, tokens))
    assert results == [JapaneseBridge(vocab).expand(t) for t in tokens]
    assert all(results)
