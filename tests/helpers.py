"""Helpers shared by tests of every package: fake indexes, small corpora, the repository's paths."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kiji.corpus.articles import load_corpus
from kiji.corpus.chunker import ChunkParams, chunk_article
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.answer.model import AnswerModel, Linear
from kiji.retrieval.answer.question_signals import QUESTION_SIGNALS
from kiji.retrieval.answer.signals import SENTENCE_SIGNALS
from kiji.retrieval.embedding.embedder import Progress
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.build import BuildSummary, build_index
from kiji.retrieval.index.passages import passage_text
from kiji.retrieval.index.store import CURRENT, VERSIONS, LoadedIndex, load_current, sentence_table
from kiji.retrieval.lexical.bridge import EnglishBridge
from kiji.retrieval.lexical.coverage import CoverageChecker
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from kiji.retrieval.search.candidates import LexicalSide

#: The checkout the tests run from.
REPO_ROOT = Path(__file__).resolve().parents[1]


#: The fake embedder's similarities (hashed character n-grams) are nothing like a real model's, so it
#: gets its own small model: a ranker of shared wording and scaled similarity (the learned one leans on
#: a real model's similarity gaps), and "answer when the best sentence stands 3.7 sds above the
#: question's background (on the shipped corpus: answerable questions ≥ 4.0, off-topic ones ≤ 3.4) and
#: the question names nothing the corpus lacks".
_FAKE_RANKER = {"coverage": 1.0, "trigram_overlap": 1.0, "dense_scaled": 1.0, "chunk_fused": 0.5,
                "figure_match": 0.5, "title_named": 1.0, "is_headline": -1.0}
FAKE_MODEL = dataclasses.replace(
    AnswerModel.load(),
    ranker=Linear(SENTENCE_SIGNALS, (0.0,) * len(SENTENCE_SIGNALS), (1.0,) * len(SENTENCE_SIGNALS),
                  tuple(_FAKE_RANKER.get(n, 0.0) for n in SENTENCE_SIGNALS)),
    answer=Linear(QUESTION_SIGNALS, (0.0,) * len(QUESTION_SIGNALS), (1.0,) * len(QUESTION_SIGNALS),
                  tuple({"best_z": 1.0, "any_missing": -5.0}.get(n, 0.0) for n in QUESTION_SIGNALS), -3.7),
    # Its scores are on its own scale: its margins are its own too, not the shipped model's.
    threshold=0.5, quote_margin=7.0, source_margin=1.5)


def lexical_side(tok: JapaneseTokenizer, texts: Iterable[str]) -> tuple[EnglishBridge, CoverageChecker]:
    """The bridge and the coverage checker over the vocabulary of ``texts`` (as an index builds them)."""
    vocab: set[str] = set()
    for text in texts:
        vocab.update(tok.tokens(text))
    bridge = EnglishBridge(vocab, tok)
    return bridge, CoverageChecker(vocab, tok, lambda: bridge)


def stale_model_file(path: Path, part: str = "answer", name: str = "retired_signal") -> Path:
    """The shipped answer model with its last ``part`` signal renamed: fitted on other signals."""
    data = json.loads(AnswerModel.load().to_json())
    data[part]["names"] = data[part]["names"][:-1] + [name]
    path.write_text(json.dumps(data))
    return path


def build_fake_index(index_dir: Path, corpus: Path = SHIPPED_CORPUS_DIR,
                     embedder: FakeEmbedder | None = None) -> FakeEmbedder:
    embedder = embedder or FakeEmbedder()
    build_index(corpus_paths=[corpus], index_dir=index_dir, embedder=embedder, params=ChunkParams())
    return embedder


def corpus_and_index(tmp_path: Path, articles: dict[str, str]) -> tuple[Path, Path, list[str]]:
    """A corpus folder of ``articles`` (file name → text) under ``tmp_path`` with its fake index
    built, and the CLI options that point at both."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name, text in articles.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_fake_index(index_dir, corpus=corpus)
    return corpus, index_dir, ["--corpus", str(corpus), "--index-dir", str(index_dir)]


def lexical_index(tmp_path: Path, articles: dict[str, str]) -> tuple[LexicalSide, LoadedIndex]:
    """An index of ``articles`` (title line → text; fake vectors) under ``tmp_path``, with its
    lexical side."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for key, text in articles.items():
        (corpus / f"{key}.txt").write_text(f"{key}\n\n{text}\n", encoding="utf-8")
    build_fake_index(tmp_path / "index", corpus)
    index = load_current(tmp_path / "index")
    return LexicalSide(index), index


def small_corpus(tmp_path: Path, name: str, count: int) -> Path:
    """A corpus folder with the first ``count`` shipped articles (small, so builds are quick)."""
    folder = tmp_path / name
    folder.mkdir()
    for source in sorted(SHIPPED_CORPUS_DIR.iterdir())[:count]:
        shutil.copy(source, folder / source.name)
    return folder


# --- small corpora and builds for the index tests ------------------------------------------------

PARAMS = ChunkParams()
SHIPPED = sorted(SHIPPED_CORPUS_DIR.glob("*.txt"))

TOPICS = [
    ("Solar panels on Kyoto temples",
     ["Kyoto city announced a plan to install solar panels on the roofs of temples.",
      "The plan covers one hundred temples by the year 2030.",
      "Panels in the same colour as roof tiles will be used to protect the scenery.",
      "Most head priests support the plan, while some residents oppose it.",
      "A city official said the goal is to raise the share of locally produced electricity.",
      "The first ten temples will be equipped next spring."]),
    ("A bakery that opens at midnight",
     ["A small bakery in Osaka only opens between midnight and six in the morning.",
      "The owner used to work night shifts at a hospital and knows how hungry night workers get.",
      "Its best seller is a curry bread that sells out within two hours.",
      "Taxi drivers make up almost half of the customers.",
      "The bakery has no sign, only a paper lantern by the door.",
      "Prices have not changed since it opened eleven years ago."]),
    ("Rebuilding a village railway",
     ["Volunteers in Nagano rebuilt a two kilometre stretch of an abandoned railway.",
      "The line closed in 1987 when the last copper mine in the valley shut down.",
      "Weekend rides on a restored diesel railcar now attract four thousand visitors a year.",
      "Ticket income pays for the maintenance of the track and the old station building.",
      "The group hopes to extend the line to the next village by 2027.",
      "Local schools use the railway for lessons about the mining history of the area."]),
    ("Octopus farming experiment",
     ["A fisheries institute in Mie reported the first full life cycle of octopus raised in tanks.",
      "Feeding the larvae was the hardest step and took eight years of research.",
      "Animal welfare groups criticised the experiment and asked for stricter rules.",
      "The institute says commercial farming is still at least five years away.",
      "Wild octopus catches in Japan have fallen by half over two decades.",
      "Restaurants in Osaka already asked about buying farmed octopus."]),
]


def article_text(title: str, sentences: Sequence[str]) -> str:
    return title + "\n\n" + " ".join(sentences[:3]) + "\n\n" + " ".join(sentences[3:]) + "\n"


class RecordingEmbedder(FakeEmbedder):
    """FakeEmbedder that remembers every ``embed_passages`` call (the last one of a build is the
    validation probe: one chunk re-embedded to prove the cache matches the model)."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.passage_calls: list[list[str]] = []

    def embed_passages(self, texts: Sequence[str], *, titles: Sequence[str] | None = None,
                       batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        self.passage_calls.append(list(texts))
        return super().embed_passages(texts, titles=titles, batch_size=batch_size, progress=progress)


def write_corpus(folder: Path, *, shipped: int = 2, synthetic: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED[:shipped]:
        shutil.copy(path, folder / path.name)
    for i, (title, sentences) in enumerate(TOPICS[:synthetic]):
        (folder / f"syn{i}.txt").write_text(article_text(title, sentences), encoding="utf-8")
    return folder


def build(corpus: Path, index_dir: Path, embedder: FakeEmbedder | None = None, **kw: Any) -> BuildSummary:
    kw.setdefault("params", PARAMS)
    return build_index(corpus_paths=[corpus], index_dir=index_dir, embedder=embedder or FakeEmbedder(), **kw)


def passage_hashes(corpus: Path) -> dict[str, set[str]]:
    """Distinct texts a build embeds (chunk passages and quote sentences), per article."""
    out: dict[str, set[str]] = {}
    for article in load_corpus([corpus]).articles:
        chunks = chunk_article(article, PARAMS)
        texts = {passage_text(article, c) for c in chunks}
        texts |= {article.text[s:e] for _, s, e in sentence_table(chunks)}
        out[article.id] = texts
    return out


def leftovers(index_dir: Path) -> list[str]:
    found = [p.name for p in (index_dir / VERSIONS).glob("tmp-*")]
    if (index_dir / f".{CURRENT}.tmp").exists():
        found.append(f".{CURRENT}.tmp")
    return found
