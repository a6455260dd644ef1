"""The unit a quantity question asks in, and the signal that no top sentence states it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kiji.retrieval.answer.question_signals import QUESTION_SIGNALS, question_signals
from kiji.retrieval.answer.signals import Background, QuestionFacts, Sentence
from kiji.retrieval.answer.units import AGE, MONEY, PERCENT, asked_units, holds_units, unit_terms
from kiji.retrieval.engine import Engine


@pytest.mark.parametrize(("question", "spellings", "word"), [
    ("梁文峰さんは何歳なんですか?", AGE, ""),
    ("How old is the founder?", AGE, ""),
    ("ＡＲＭの株価は何％下がったの？", PERCENT, ""),
    ("What percentage of the market did it lose?", PERCENT, ""),
    ("Stargateの最初の投資額っていくら?", MONEY, ""),
    ("what was the company's closing share price?", MONEY, ""),
    ("How much money did they raise?", MONEY, ""),
    ("DeepSeek-V3って何兆トークンで学習したの?", ("トークン",), "トークン"),
    ("その工場には何台のロボットがある?", ("台",), "台"),
    ("how many gigawatts will the data centers use?", ("gigawatt",), "gigawatts"),
    ("How many experts does the model have?", ("expert",), "experts"),
])
def test_the_asked_unit(question: str, spellings: tuple[str, ...], word: str) -> None:
    units = asked_units(question)
    assert len(units) == 1
    assert units[0].spellings == tuple(s.lower() for s in spellings) and units[0].word == word


@pytest.mark.parametrize("question", [
    "What is DeepSeek?", "DeepSeekは何故話題になった?", "彼は何者?", "besides cost, what else is it destroying?",
    "Why did the shares fall?", "NVIDIAの株価はなぜ下がった?",
])
def test_questions_that_ask_no_unit(question: str) -> None:
    assert asked_units(question) == ()


def test_a_sentence_holds_a_unit_as_written_or_through_a_translation() -> None:
    age, = asked_units("梁文峰さんは何歳?")
    assert holds_units((age,), (frozenset(),), "梁文峰氏は40歳だ。", frozenset())
    assert not holds_units((age,), (frozenset(),), "梁文峰氏は2023年に会社を設立した。", frozenset())
    experts, = asked_units("How many experts are there?")
    translated = unit_terms((experts,), lambda word: {"専門家"} if word == "experts" else set())
    assert translated == (frozenset({"専門家"}),)
    assert holds_units((experts,), translated, "256人の専門家がいる。", frozenset({"専門家", "いる"}))
    assert holds_units((experts,), translated, "It has 256 experts.", frozenset())
    assert not holds_units((experts,), translated, "モデルは大きい。", frozenset({"モデル"}))


def test_unit_missing_when_no_top_three_sentence_states_it() -> None:
    at = QUESTION_SIGNALS.index("unit_missing")
    facts = QuestionFacts(Background(0.5, 0.1, 0.7), 0, 1, 0.0, True, frozenset({"number"}), units_asked=True)
    sentences = [Sentence(j, 0, "a", 0, 10, 0.9, True, 0.5, 0.5, True, 0.1, 0.0, units_held=False)
                 for j in range(4)]
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    assert question_signals(sentences, scores, facts)[at] == 1.0
    held_fourth = [dataclasses.replace(s, units_held=j == 3) for j, s in enumerate(sentences)]
    assert question_signals(held_fourth, scores, facts)[at] == 1.0  # not among the top three
    held_second = [dataclasses.replace(s, units_held=j == 1) for j, s in enumerate(sentences)]
    assert question_signals(held_second, scores, facts)[at] == 0.0
    no_unit = dataclasses.replace(facts, units_asked=False)
    assert question_signals(sentences, scores, no_unit)[at] == 0.0


def test_candidates_know_which_sentences_state_the_asked_unit(fake_engine: Engine) -> None:
    cands = fake_engine.candidates("NVIDIAの株価は何%下がった?", "ja")
    assert cands.facts.units_asked
    texts = {s.sentence_id: fake_engine.index.articles[s.article_id].text[s.start:s.end] for s in cands.sentences}
    for s in cands.sentences:
        assert s.units_held == any(p in texts[s.sentence_id] for p in ("%", "％", "パーセント"))
    assert any(s.units_held for s in cands.sentences) and not all(s.units_held for s in cands.sentences)


def test_a_translation_inside_a_longer_token_counts() -> None:
    employees, = asked_units("How many employees does it have?")
    assert holds_units((employees,), (frozenset({"従業員"}),), "従業員数は200人だ。", frozenset({"従業員数", "200"}))
