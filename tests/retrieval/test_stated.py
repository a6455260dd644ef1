"""What a question takes as given (its figures, its negation) and the signals that no top sentence says it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kiji.retrieval.answer.question_signals import QUESTION_SIGNALS, question_signals
from kiji.retrieval.answer.signals import Background, QuestionFacts, Sentence
from kiji.retrieval.answer.stated import numbers_in, question_negated, states_negation
from kiji.retrieval.engine import Engine


def test_numbers_are_read_in_digits_of_either_width_without_separators() -> None:
    assert numbers_in("the Royal Proclamation of 1736, stage 2") == {"1736", "2"}
    assert numbers_in("売上は１，２００億円、前年比5.3%増") == {"1200", "5.3"}
    assert numbers_in("二千年の歴史") == frozenset()


@pytest.mark.parametrize(("question", "negated"), [
    ("Who did not charter the company?", True), ("Why didn't the plan work?", True),
    ("What was never built?", True), ("なぜ日本は参加しなかったの?", True), ("それは使えないの?", True),
    ("Who chartered the company?", False), ("What is the nut force?", False),
    ("実はほかの国より進んでるかもしれないの?", False), ("それってバブルじゃない?", False),
])
def test_negated_questions(question: str, negated: bool) -> None:
    assert question_negated(question) is negated


def test_sentences_that_state_a_negation() -> None:
    assert states_negation("The UK did not need to justify its action.")
    assert states_negation("価格は公開されていない。")
    assert not states_negation("It was chartered by Queen Elizabeth in the following year.")


def _facts(**kw: object) -> QuestionFacts:
    return dataclasses.replace(QuestionFacts(Background(0.5, 0.1, 0.7), 0, 1, 0.0, False), **kw)  # type: ignore[arg-type]


def test_number_missing_and_negation_unmatched_read_the_top_three() -> None:
    nm, neg = QUESTION_SIGNALS.index("number_missing"), QUESTION_SIGNALS.index("negation_unmatched")
    base = [Sentence(j, 0, "a", 0, 10, 0.9, True, 0.5, 0.5, True, 0.1, 0.0) for j in range(4)]
    scores = np.array([3.0, 2.0, 1.0, 0.0])
    facts = _facts(numbers=frozenset({"1736"}), negated=True)
    row = question_signals(base, scores, facts)
    assert row[nm] == 1.0 and row[neg] == 1.0
    fourth = [dataclasses.replace(s, numbers=frozenset({"1736"}), negation=True) if j == 3 else s
              for j, s in enumerate(base)]
    row = question_signals(fourth, scores, facts)
    assert row[nm] == 1.0 and row[neg] == 1.0  # the fourth is not among the top three
    second = [dataclasses.replace(s, numbers=frozenset({"1736", "7"}), negation=True) if j == 1 else s
              for j, s in enumerate(base)]
    row = question_signals(second, scores, facts)
    assert row[nm] == 0.0 and row[neg] == 0.0
    row = question_signals(base, scores, _facts())
    assert row[nm] == 0.0 and row[neg] == 0.0


def test_a_titles_number_is_not_a_figure_asked_about(fake_engine: Engine) -> None:
    title = next(a.title for a in fake_engine.index.articles.values() if numbers_in(a.title))
    referenced = fake_engine.candidates(f"「{title}」を書いた人は?", "ja")
    assert not referenced.facts.numbers
    assert fake_engine.candidates("1736年に何があった?", "ja").facts.numbers == {"1736"}
