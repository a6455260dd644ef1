"""Index build throughput per embedding runtime, next to the bare encode of the same texts.

    .venv/bin/python bench/build_bench.py [--runtimes onnx,onnx-int8,torch] [--passages 2000]
        [--threads 2]

Two corpora: the shipped one, and a synthetic one of about ``--passages`` embedded texts (chunks
plus quote sentences) made by recombining the shipped articles' sentences into new articles, so every
text is new to the cache. For each: ``build_index(full=True)`` passages/s and, in the same run,
``embed_passages`` of exactly the texts the build embedded (the floor). Target: build ≥ 0.9× bare.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from kiji.corpus.articles import load_corpus
from kiji.corpus.chunker import ChunkParams
from kiji.corpus.sentences import sentence_spans
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.index.build import build_index
from kiji.retrieval.index.passages import texts_to_embed
from kiji.runtime import load_embedder
from kiji.settings import Settings


def synthetic_corpus(target: Path, passages: int, seed: int = 0) -> None:
    """Articles of 8-14 shuffled corpus sentences until about ``passages`` texts would be embedded."""
    rng = random.Random(seed)
    sentences = []
    for article in load_corpus(SHIPPED_CORPUS_DIR).articles:
        sentences += [article.text[s:e] for s, e in sentence_spans(article.text) if e - s >= 15]
    target.mkdir(parents=True)
    texts = 0
    n = 0
    while texts < passages:
        # A tag per sentence keeps every text distinct, so the cache cannot skip any of them.
        body = [f"{s}（{n}-{i}）" for i, s in enumerate(rng.sample(sentences, rng.randint(8, 14)))]
        (target / f"synthetic_{n:05d}.txt").write_text(f"合成記事 {n}\n" + "\n".join(body) + "\n", encoding="utf-8")
        texts += len(body) + 1 + len(body) // 3  # sentences, title line, about one chunk per 3 sentences
        n += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtimes", default="onnx,onnx-int8,torch")
    ap.add_argument("--passages", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    params = ChunkParams()
    with tempfile.TemporaryDirectory() as tmp:
        synth = Path(tmp) / "synthetic"
        synthetic_corpus(synth, args.passages)
        corpora = {"shipped": SHIPPED_CORPUS_DIR, "synthetic": synth}
        print(f"{'runtime':<10} {'corpus':<10} {'texts':>6} {'bare p/s':>9} {'build p/s':>9} {'ratio':>6} {'build s':>8}")
        for runtime in args.runtimes.split(","):
            settings = Settings(embedding_runtime=runtime, embed_threads=args.threads)
            embedder = load_embedder(settings)
            embedder.embed_passages(["warm-up"])
            for name, corpus in corpora.items():
                texts, titles = texts_to_embed([corpus], params)
                started = time.perf_counter()
                embedder.embed_passages(texts, titles=titles, batch_size=settings.embed_batch_size)
                bare = len(texts) / (time.perf_counter() - started)
                index_dir = Path(tmp) / f"index-{runtime}-{name}"
                started = time.perf_counter()
                summary = build_index(corpus_paths=[corpus], index_dir=index_dir, embedder=embedder, params=params,
                                      batch_size=settings.embed_batch_size, full=True)
                total = time.perf_counter() - started
                rate = summary.embedded_chunks / total
                print(f"{runtime:<10} {name:<10} {summary.embedded_chunks:>6} {bare:>9.1f} {rate:>9.1f} "
                      f"{rate / bare:>6.2f} {total:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
