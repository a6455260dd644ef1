"""Helpers shared by tests of every package: fake indexes, small corpora, the repository's paths."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from kiji.api.deps import AppState
from kiji.bot.client import KijiBot
from kiji.bot.embeds import quote_text
from kiji.bot.markdown import unescape
from kiji.corpus.articles import load_corpus
from kiji.corpus.chunker import ChunkParams, chunk_article
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.answer.model import AnswerModel, Linear
from kiji.retrieval.answer.question_signals import QUESTION_SIGNALS
from kiji.retrieval.answer.signals import SENTENCE_SIGNALS
from kiji.retrieval.embedding.embedder import Progress
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.build import BuildSummary, build_index
from kiji.retrieval.index.passages import passage_text
from kiji.retrieval.index.store import CURRENT, VERSIONS, LoadedIndex, load_current, sentence_table
from kiji.retrieval.lexical.bridge import EnglishBridge
from kiji.retrieval.lexical.coverage import CoverageChecker
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from kiji.retrieval.models import ArticleInfo, AskResult
from kiji.retrieval.search.candidates import LexicalSide
from kiji.settings import Settings
from tests.bot.fake_discord import FakeDiscord, Pending

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

    def embed_passages(self, texts: Sequence[str], *, batch_size: int = 16,
                       progress: Progress | None = None) -> np.ndarray:
        self.passage_calls.append(list(texts))
        return super().embed_passages(texts, batch_size=batch_size, progress=progress)


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


# --- the HTTP API ----------------------------------------------------------------------------------

JA_QUESTION = "Stargateの最初の投資額っていくら?"
ADMIN = {"Authorization": "Bearer admin-secret"}


def make_settings(index_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_dir": index_dir, "rate_limit_per_minute": 0, "watch_index": False,
                              "embedding_runtime": "torch"}
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def state_of(app: FastAPI) -> AppState:
    return app.state.kiji


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def truncate_vectors(version_dir: Path) -> None:
    vectors = version_dir / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:64])


class GatedEmbedder(FakeEmbedder):
    """Holds the first query embedding after ``hold`` is set until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.hold.is_set():
            self.hold.clear()
            self.entered.set()
            self.release.wait(10)
        return super().embed_queries(texts)


class RendezvousEmbedder(FakeEmbedder):
    """Each query embedding waits until ``parties`` of them are running at the same time: it only
    completes if the server really runs that many queries concurrently (else it times out)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.barrier.wait()
        return super().embed_queries(texts)


# --- the Discord bot -------------------------------------------------------------------------------

TOKEN = "fake-token-for-tests"
QUESTION_EN = "What is DeepSeek?"
QUESTION_JA = "NVIDIAは時間外取引で何%下落しましたか?"
# The brief's "how do i fix a flat bike tire" is answered by the fake embedder's loose tuning (a weak
# n-gram match); this one is declined by the shipped decision rule (a term the corpus never mentions).
OFF_TOPIC = "What is the recipe for Okonomiyaki?"
LOCATION = re.compile(r" · (?:chars (\d+)–(\d+)|(\d+)〜(\d+)文字目)$")


class ScriptedEngine:
    """The real engine, plus failures, delays, canned results or articles where a test needs them."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.errors: dict[str, BaseException] = {}
        self.results: dict[str, AskResult] = {}
        self.articles_list: list[ArticleInfo] | None = None
        self.delay_s = 0.0
        self.calls = 0

    def ask(self, question: str, *, top_k: int | None = None) -> AskResult:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)  # blocking on purpose: it must not stall the event loop
        if question in self.errors:
            raise self.errors[question]
        if question in self.results:
            return self.results[question]
        return self.inner.ask(question, top_k=top_k)

    def articles(self) -> list[ArticleInfo]:
        return self.articles_list if self.articles_list is not None else self.inner.articles()


@dataclasses.dataclass
class Harness:
    server: FakeDiscord
    bot: KijiBot
    engine: ScriptedEngine
    task: asyncio.Task[None]

    async def send(self, payload: dict[str, Any], done: Callable[[Pending], Any] | None = None) -> Pending:
        pending = await self.server.interact(payload)
        await self.server.wait_until(lambda: (done or finished)(pending))
        return pending

    async def ask(self, question: str, **options: Any) -> Pending:
        who = {k: options.pop(k) for k in ("user_id", "locale", "guild_id") if k in options}
        return await self.send(self.server.slash("ask", {"question": question, **options}, **who))


def finished(p: Pending) -> bool:
    """The user sees a final message: a direct reply, an edit of the placeholder, or a follow-up."""
    if p.callback is None:
        return False
    return p.callback["type"] in (4, 7) or bool(p.edits) or bool(p.followups)


def reply(p: Pending) -> dict[str, Any]:
    if p.followups:
        return p.followups[-1]
    assert p.original is not None
    return p.original


def embed_of(p: Pending) -> dict[str, Any]:
    embeds = reply(p)["embeds"]
    assert len(embeds) == 1
    return embeds[0]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message["components"] for c in row["components"]]


def custom_id(message: dict[str, Any], prefix: str) -> str:
    return next(b["custom_id"] for b in buttons(message) if b["custom_id"].startswith(prefix))


def assert_quotes_verbatim(embed: dict[str, Any], engine: Engine) -> list[tuple[str, int]]:
    """Every field quotes its article word for word at the location its name gives."""
    by_title = {a.title: a for a in engine.index.articles.values()}
    seen = []
    for field in embed["fields"]:
        match = LOCATION.search(field["name"])
        assert match, field["name"]
        start = int(match.group(1) or match.group(3))
        title = unescape(re.sub(r"^\d+\. ", "", field["name"][:match.start()]))
        article = by_title[title]
        text, _cut = quote_text(field["value"])
        assert text and article.text[start:start + len(text)] == text
        seen.append((article.id, start))
    return seen
