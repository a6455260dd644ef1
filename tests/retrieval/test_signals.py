"""Answer signals: how much of the question a candidate sentence and its context hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiji.retrieval.answer.signals import SENTENCE_SIGNALS, Candidates, SignalExtractor
from kiji.retrieval.index.store import LoadedIndex
from kiji.retrieval.models import Language
from kiji.retrieval.search.candidates import Candidate
from tests.helpers import lexical_index

ARTICLES = {
    "embroidery": "The Bayeux Tapestry is a long work of embroidery. "
                        "It was commissioned by Odo, a bishop. Needles were made of bone.",
    "crafts": "Weaving came later. A tapestry is woven on a loom, and some were commissioned by kings.",
}
QUESTION = "Who commissioned the Bayeux Tapestry?"


def _extract(tmp_path: Path, language: Language = "en") -> tuple[LoadedIndex, Candidates]:
    lexical, index = lexical_index(tmp_path, ARTICLES)
    terms = lexical.terms(QUESTION, bridge=False)
    candidates = [Candidate(i, 0.5, 0.0, 0.5) for i in range(len(index.chunks))]
    extracted = SignalExtractor(index, lexical).extract(
        QUESTION, candidates, np.zeros(index.sentence_vectors.shape[1], np.float32), terms, {},
        language=language, missing=0, specific=0)
    return index, extracted


def _row(index: LoadedIndex, extracted: Candidates, start: str) -> int:
    return next(i for i, s in enumerate(extracted.sentences)
                if index.articles[s.article_id].text[s.start:s.end].startswith(start))


def test_window_coverage_counts_the_subject_named_in_the_sentence_before(tmp_path: Path) -> None:
    index, extracted = _extract(tmp_path)
    window = SENTENCE_SIGNALS.index("window_coverage")
    answer = _row(index, extracted, "It was commissioned")
    # The answer itself holds only "commissioned"; "Bayeux Tapestry" is in the sentence before.
    assert extracted.sentences[answer].coverage < 0.5
    assert extracted.matrix[answer, window] == pytest.approx(1.0)
    # Only the one sentence before counts: the sentence after the answer gains what the answer
    # holds, not what the sentence before that named.
    after = _row(index, extracted, "Needles")
    assert extracted.matrix[after, window] == pytest.approx(extracted.sentences[answer].coverage)
    # A sentence whose predecessor (here its article's title) holds none of the question's words
    # keeps its own coverage.
    first = _row(index, extracted, "Weaving")
    assert extracted.matrix[first, window] == extracted.sentences[first].coverage


def test_the_language_the_engine_settled_decides_which_sentences_are_in_the_other_one(
        tmp_path: Path) -> None:
    # The engine passes the question's language (a caller's explicit one included); the signals
    # do not detect it again from the text.
    _, as_english = _extract(tmp_path, "en")
    assert not any(s.other_language for s in as_english.sentences)
    (tmp_path / "ja").mkdir()
    _, as_japanese = _extract(tmp_path / "ja", "ja")
    assert as_japanese.sentences and all(s.other_language for s in as_japanese.sentences)
