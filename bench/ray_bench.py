"""Ray build benchmark for issue 15 (a script, not a test): what `kiji index build --ray` gains
and costs on this machine, and what a 200,000-article build would take on 1, 10 and 50 machines.

Usage (from the repository root, the prepared model in place; ~35 minutes on 2 cores):

    .venv/bin/python bench/ray_bench.py                   # every part
    .venv/bin/python bench/ray_bench.py --part overhead   # throughput | overhead | scaling | projection

Parts:
- throughput: a synthetic corpus of 2,000 articles (sentences of the shipped corpus, each made
  unique; bench/index_bench.py's generator) built from scratch four ways with the real ONNX model:
  single process on 2 threads and on 1, and on a local Ray instance with 1 and with 2 actors (one
  encoder thread each). Passages/s = passages embedded / embedding seconds of the build.
- overhead: the shipped corpus (341 passages), plain build vs `--ray` (local instance): what Ray's
  start, its actors and their model loads add to a small build.
- scaling: a fake embedder that sleeps a fixed time per passage (the real model's measured cost
  per passage and core), so one 2-core machine can hold more actors than cores: passages/s with
  1 to 8 actors show how close Ray Data's actor pool comes to linear, and a zero-cost fake shows
  how many passages/s the build process itself can take in (its ceiling).
- projection: the 200,000-article build (~2M chunks + ~10M sentences = 12M passages, the figures
  of issue 15) on 1, 10 and 50 machines of 2 cores: embedding at the measured per-machine rate times
  the measured pool efficiency, bounded by the build process's ceiling, plus the parts that stay in
  one process (reading, chunking, cache, FAISS, writing), timed per passage on the synthetic corpus.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from index_bench import write_synthetic_corpus  # bench/index_bench.py (this folder is on sys.path)

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.embedding.embedder import Embedder, load_embedder
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.embedding.ray_pool import RayConfig, RayEmbeddingPool
from kiji.retrieval.index.build import BuildSummary, build_index
from kiji.retrieval.index.passages import texts_to_embed
from kiji.runtime import chunk_params, embedder_config
from kiji.settings import Settings

#: The issue's figures for a publisher with ~200,000 articles.
TARGET_ARTICLES, TARGET_PASSAGES = 200_000, 12_000_000
MACHINES = (1, 10, 50)


def say(*parts: object) -> None:
    print(*parts, flush=True)


class SleepyFake(FakeEmbedder):
    """FakeEmbedder that costs ``seconds`` per passage in wall time but no CPU (it sleeps)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(dim=384)
        self.seconds = seconds

    def embed_passages(self, texts: Sequence[str], *, titles: Sequence[str] | None = None,
                       batch_size: int = 16, progress: Any = None) -> np.ndarray:
        time.sleep(self.seconds * len(texts))
        return super().embed_passages(texts, titles=titles, batch_size=batch_size, progress=progress)


class Timed:
    """Wraps a passage encoder: when its first block arrived (Ray and the actors started, models
    loaded) and how fast the rest came (the steady rate)."""

    def __init__(self, encoder: RayEmbeddingPool) -> None:
        self.encoder = encoder
        self.startup_s = self.steady_rate = 0.0

    def __call__(self, texts: list[str], titles: list[str] | None = None,
                 progress: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        started = time.perf_counter()
        first_at, after_first = 0.0, 0
        for rows, vectors in self.encoder(texts, titles, progress):
            if not first_at:
                first_at = time.perf_counter()
                self.startup_s = first_at - started
            else:
                after_first += len(rows)
            yield rows, vectors
        self.steady_rate = after_first / max(time.perf_counter() - first_at, 1e-9)


def build(corpus: Path, embedder: Embedder, encoder: Any = None) -> BuildSummary:
    with tempfile.TemporaryDirectory() as tmp:
        return build_index(corpus_paths=[corpus], index_dir=Path(tmp) / "index", embedder=embedder,
                           params=chunk_params(Settings()), encoder=encoder)


def ray_pool(settings: Settings, embedder: Embedder, actors: int, factory: Any = None,
             batch: int = 256) -> RayEmbeddingPool:
    config = RayConfig(address="local", actors=actors, batch_size=batch, threads_per_actor=1,
                       local_cpus=max(2, actors))
    factory = factory or partial(load_embedder, embedder_config(settings, threads=1))
    return RayEmbeddingPool(config, factory, fingerprint=embedder.fingerprint, dim=embedder.dim,
                            encode_batch=settings.embed_batch_size)


def rate(summary: BuildSummary) -> float:
    return summary.embedded_chunks / max(summary.embed_seconds, 1e-9)


def part_throughput(settings: Settings, corpus: Path) -> dict[str, float]:
    say(f"== throughput: {len(list(corpus.iterdir())):,} synthetic articles, real model, builds from scratch")
    out: dict[str, float] = {}
    for threads in (2, 1):
        embedder = load_embedder(embedder_config(settings, threads=threads))
        s = build(corpus, embedder)
        out[f"plain-{threads}"] = rate(s)
        say(f"RESULT single process, {threads} thread(s): {s.embedded_chunks:,} passages in "
            f"{s.embed_seconds:.1f}s = {rate(s):.1f} passages/s (build {s.seconds:.1f}s)")
        del embedder
        gc.collect()
    embedder = load_embedder(embedder_config(settings, threads=1))  # the build's own, for validation
    for actors in (1, 2):
        timed = Timed(ray_pool(settings, embedder, actors))
        s = build(corpus, embedder, timed)
        out[f"ray-{actors}"] = rate(s)
        out[f"ray-{actors}-steady"] = timed.steady_rate
        say(f"RESULT Ray, {actors} actor(s) x 1 thread: {s.embedded_chunks:,} passages in "
            f"{s.embed_seconds:.1f}s = {rate(s):.1f} passages/s with Ray's start (first block after "
            f"{timed.startup_s:.1f}s), {timed.steady_rate:.1f} passages/s after it (build {s.seconds:.1f}s)")
    say(f"    Ray 2 actors / 1 actor: {out['ray-2'] / out['ray-1']:.2f}x (steady "
        f"{out['ray-2-steady'] / out['ray-1-steady']:.2f}x); Ray 2 actors / single process 2 threads: "
        f"{out['ray-2'] / out['plain-2']:.2f}x")
    return out


def part_overhead(settings: Settings) -> None:
    say("== overhead: the shipped corpus, plain build vs a local Ray instance with 2 actors")
    embedder = load_embedder(embedder_config(settings, threads=2))
    plain = build(SHIPPED_CORPUS_DIR, embedder)
    started = time.perf_counter()
    distributed = build(SHIPPED_CORPUS_DIR, embedder, ray_pool(settings, embedder, 2))
    total = time.perf_counter() - started
    say(f"RESULT overhead: {plain.embedded_chunks} passages; plain build {plain.seconds:.1f}s (embedding "
        f"{plain.embed_seconds:.1f}s); Ray build {total:.1f}s (embedding phase {distributed.embed_seconds:.1f}s, "
        f"which includes starting Ray and two actors that each load the model): Ray adds "
        f"{total - plain.seconds:.1f}s")


def drive(pool: RayEmbeddingPool, texts: list[str]) -> Timed:
    timed = Timed(pool)
    for _ in timed(texts):
        pass
    return timed


def part_scaling(per_passage: float, corpus: Path) -> dict[str, Any]:
    texts, _ = texts_to_embed([corpus], chunk_params(Settings()))
    say(f"== scaling: {len(texts):,} passages; actors that sleep {per_passage * 1000:.1f} ms per passage "
        "(no CPU), local Ray instance; steady rate = after the first block")
    embedder = FakeEmbedder(dim=384)
    settings = Settings()
    rates: dict[int, float] = {}
    for actors in (1, 2, 4, 8):
        count = min(len(texts), int(actors * 25 / per_passage))  # ~25 s of work at any pool size
        timed = drive(ray_pool(settings, embedder, actors, factory=partial(SleepyFake, per_passage), batch=64),
                      texts[:count])
        rates[actors] = timed.steady_rate
        ideal = actors / per_passage
        say(f"RESULT scaling {actors} actor(s): {timed.steady_rate:.1f} passages/s = "
            f"{timed.steady_rate / ideal * 100:.0f}% of ideal {ideal:.0f} ({count:,} passages; first block "
            f"after {timed.startup_s:.1f}s)")
    many = (texts * (1 + 200_000 // len(texts)))[:200_000]
    timed = drive(ray_pool(settings, embedder, 2, factory=partial(FakeEmbedder, 384), batch=512), many)
    say(f"RESULT ceiling: zero-cost actors: {timed.steady_rate:,.0f} passages/s reach the build process "
        f"(blocks of 512, {len(many):,} passages)")
    # Serial part: the whole build minus embedding, with a zero-cost embedder in this process.
    plain = build(corpus, FakeEmbedder(dim=384))
    serial = (plain.seconds - plain.embed_seconds) / max(1, plain.embedded_chunks + plain.reused_chunks)
    say(f"RESULT serial: reading, chunking, hashing, cache writes, FAISS, writing and validating: "
        f"{serial * 1e6:.0f} us per passage ({plain.seconds - plain.embed_seconds:.1f}s for "
        f"{plain.embedded_chunks:,}; all counted as serial, although cache writes overlap the embedding)")
    return {"rates": rates, "ceiling": timed.steady_rate, "serial": serial}


def part_projection(per_machine: float, scaling: dict[str, Any]) -> None:
    rates: dict[int, float] = scaling["rates"]
    efficiency = min(1.0, rates[max(rates)] / (max(rates) * rates[1]))  # 8 actors vs 8x one actor
    say(f"== projection: {TARGET_ARTICLES:,} articles = {TARGET_PASSAGES:,} passages; a machine (2 cores) "
        f"embeds {per_machine:.0f} passages/s (measured: Ray, 2 actors, steady); pool efficiency {efficiency:.2f} "
        f"(measured at 8 actors); build process ceiling {scaling['ceiling']:,.0f} passages/s; serial "
        f"{scaling['serial'] * 1e6:.0f} us/passage")
    serial_s = scaling["serial"] * TARGET_PASSAGES
    for machines in MACHINES:
        throughput = min(machines * per_machine * (1.0 if machines == 1 else efficiency), scaling["ceiling"])
        embed_s = TARGET_PASSAGES / throughput
        total = embed_s + serial_s
        say(f"RESULT projection {machines:>2} machine(s): embedding {embed_s / 3600:6.1f} h at "
            f"{throughput:,.0f} passages/s + serial {serial_s / 3600:.1f} h = {total / 3600:.1f} h")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "throughput", "overhead", "scaling", "projection"],
                        default="all")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--per-machine", type=float, default=None,
                        help="passages/s of one machine for the projection (default: measured)")
    args = parser.parse_args()
    settings = Settings()
    work = Path(tempfile.mkdtemp(prefix="kiji-ray-bench-"))
    try:
        corpus = work / "corpus"
        write_synthetic_corpus(corpus, args.articles)
        per_machine = args.per_machine
        if args.part in ("all", "throughput"):
            per_machine = part_throughput(settings, corpus)["ray-2-steady"]
        if args.part in ("all", "overhead"):
            part_overhead(settings)
        if args.part in ("all", "scaling", "projection"):
            # The real model's cost per passage and core: single process, 1 thread (measured here, or
            # the README's 2-thread figure halved).
            per_core = (per_machine or 112.0) / 2
            small = work / "small"
            write_synthetic_corpus(small, 500)
            scaling = part_scaling(1.0 / per_core, small)
            if args.part in ("all", "projection"):
                part_projection(per_machine or 112.0, scaling)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
