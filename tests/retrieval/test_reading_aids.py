"""Highlights and glosses: spans into the verbatim quote, across scripts; JMdict meanings."""

from __future__ import annotations

import pytest

from kiji.retrieval.answer.figures import figures
from kiji.retrieval.answer.glosses import MAX_GLOSSES, Glossary
from kiji.retrieval.answer.highlights import highlight_spans, matched_terms, merge
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


def test_terms_in_either_script_and_asked_figures_are_marked() -> None:
    text = "時々、株式のアドバイスを求められますが、NVIDIAは時間外取引で11%下落しています。"
    spans = highlight_spans(text, ["nvidia", "株式", "下落"], every_figure=True)
    assert texts(text, spans) == ["株式", "NVIDIA", "11%下落"]
    # Without a question for a figure, only the figures the question gives are marked.
    spans = highlight_spans(text, ["nvidia"], every_figure=False, question_figures=figures("was it 11%?"))
    assert texts(text, spans) == ["NVIDIA", "11%"]
    assert texts(text, highlight_spans(text, ["nvidia"], every_figure=False)) == ["NVIDIA"]


def test_spans_are_offsets_into_the_text_as_written() -> None:
    # Full-width Latin and digits match their ASCII forms; offsets stay those of the text.
    text = "😀ＮＶＩＤＩＡは１７％下落"
    spans = highlight_spans(text, ["nvidia"], every_figure=True)
    assert texts(text, spans) == ["ＮＶＩＤＩＡ", "１７％"]


def test_a_latin_term_is_a_whole_word_and_particles_are_not_marked() -> None:
    text = "He said AI is here"
    assert texts(text, highlight_spans(text, ["ai", "is"], every_figure=False)) == ["AI", "is"]
    assert highlight_spans("大きさはこの", ["この", "は"], every_figure=False) == []
    assert matched_terms("Said it", ["ai", "said"]) == ["said"]


def test_merge_joins_overlaps() -> None:
    assert merge([(5, 7), (0, 2), (1, 3), (7, 8)]) == [(0, 3), (5, 8)]


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary(JapaneseTokenizer(), latin_for=lambda kana: "nvidia" if kana == "エヌビディア" else None,
                    japanese_for=lambda word: {"employees": "従業員"}.get(word.lower()))


def test_a_japanese_quote_gets_english_meanings(glossary: Glossary) -> None:
    text = "対照的にエヌビディアの従業員数は200人、ゲイリー・マーカスは発電所の建設を述べた"
    glosses = {g.term: g.gloss for g in glossary.glosses(text, text_language="ja", reader="en",
                                                          first=["発電所"])}
    assert len(glosses) <= MAX_GLOSSES
    assert glosses["発電所"].startswith("power plant")  # the question's term comes first
    assert glosses["エヌビディア"] == "nvidia"  # the corpus's Latin spelling of a katakana name
    assert glosses["ゲイリー"] == "Gary"  # JMnedict
    assert all(term in text for term in glosses)


def test_a_compound_jmdict_lacks_is_glossed_by_its_pieces(glossary: Glossary) -> None:
    glosses = {g.term: g.gloss for g in glossary.glosses("従業員数は200人", text_language="ja", reader="en")}
    assert glosses == {"従業員数": "employee + number"}


def test_glosses_only_for_a_reader_of_the_other_language(glossary: Glossary) -> None:
    assert glossary.glosses("従業員数は200人", text_language="ja", reader="ja") == []
    glosses = glossary.glosses("The employees of NVIDIA", text_language="en", reader="ja")
    assert [(g.term, g.gloss) for g in glosses] == [("employees", "従業員")]
