"""The engine's candidates: a chunk that fusion leaves out joins them when it holds one of the
question's best sentences (``RetrievalTuning.sentence_hits``)."""

from __future__ import annotations

from pathlib import Path

from kiji.retrieval.answer.tuning import RetrievalTuning
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.search.candidates import Mode
from tests.helpers import lexical_index

# The answer sits in a long article about something else, so its chunk's vector (the mean of many
# ferry sentences) ranks below a short article that only shares the question's words.
FILLER = " ".join(f"Ferries number {i} sail across the quiet northern harbour at dawn." for i in range(8))
ARTICLES = {
    "ships": f"Harbour notes\n{FILLER} The lighthouse keeper Ida Berg painted the tower red in 1931. {FILLER}",
    "towers": "Towers\nA lighthouse tower is often painted. Keepers of a lighthouse paint towers. "
              "The tower keeper painted again.",
}
QUESTION = "Who painted the lighthouse tower red in 1931?"
ANSWER = "The lighthouse keeper Ida Berg painted the tower red in 1931."


def _candidate_texts(tmp_path: Path, sentence_hits: int, mode: Mode | None = None) -> list[str]:
    tmp_path.mkdir()
    lexical, index = lexical_index(tmp_path, ARTICLES)
    engine = Engine(index=index, embedder=FakeEmbedder(), lexical=lexical,
                    tuning=RetrievalTuning(candidate_chunks=1, sentence_hits=sentence_hits))
    found = engine.candidates(QUESTION, "en", mode)
    return [index.articles[s.article_id].text[s.start:s.end] for s in found.sentences]


def test_the_chunk_of_the_best_sentence_joins_the_candidates(tmp_path: Path) -> None:
    without = _candidate_texts(tmp_path / "a", 0)
    assert ANSWER not in without  # fusion's one chunk is the short article's
    with_hits = _candidate_texts(tmp_path / "b", 1)
    assert ANSWER in with_hits
    assert set(without) < set(with_hits)  # added to, nothing taken away


def test_lexical_retrieval_stays_lexical(tmp_path: Path) -> None:
    # ``mode="lexical"`` (kiji eval --ablation) measures BM25 alone: no dense sentence joins it.
    assert ANSWER not in _candidate_texts(tmp_path / "a", 3, "lexical")
    assert ANSWER in _candidate_texts(tmp_path / "b", 3, "fused+bridge")
