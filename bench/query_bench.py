"""Query latency after load, per embedding runtime, on a quiet machine and under a competing load.

    .venv/bin/python bench/query_bench.py [--questions ../shared/eval/dev.jsonl] [--rounds 5]
        [--runtimes onnx,onnx-int8,torch] [--threads 1,2] [--no-load]

For each runtime and thread count it prints, over the dev questions: the bare ``embed_queries`` time
of one question (the floor), ``Engine.ask`` p50/p95 (tokenise, embed, search, compose), and the same
again while a busy loop occupies one core. It also builds an index per runtime in a temporary folder
(index vectors must come from the runtime that embeds the queries). Loopback only; bounded loops.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

from kiji.corpus.chunker import ChunkParams
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.build import build_index
from kiji.retrieval.index.store import load_current
from kiji.runtime import load_embedder
from kiji.settings import Settings


def _busy(stop: mp.Event) -> None:  # type: ignore[valid-type]
    x = 0
    while not stop.is_set():  # type: ignore[attr-defined]
        for _ in range(100_000):
            x += 1


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(engine: Engine, questions: list[str], rounds: int) -> dict[str, float]:
    engine.warm_up()
    for q in questions[:5]:
        engine.ask(q)
    encode, ask = [], []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            engine.embedder.embed_queries([q])
            encode.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine.ask(q)
            ask.append((time.perf_counter() - t) * 1000)
    return {"encode_p50": statistics.median(encode), "ask_p50": statistics.median(ask),
            "ask_p95": _pct(ask, 0.95), "ask_max": max(ask)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", default=str(Path(__file__).resolve().parents[2] / "shared/eval/dev.jsonl"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runtimes", default="onnx,onnx-int8,torch")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-load", action="store_true", help="skip the competing-load runs")
    args = ap.parse_args()
    with open(args.questions, encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()]
    print(f"{len(questions)} questions x {args.rounds} rounds; times in ms")
    print(f"{'runtime':<10} {'thr':>3} {'load':>5} {'encode p50':>11} {'ask p50':>8} {'ask p95':>8} {'ask max':>8}"
          f" {'build p/s':>9}")
    for runtime in args.runtimes.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            settings = Settings(embedding_runtime=runtime, embed_threads=threads, faiss_threads=1)
            embedder = load_embedder(settings)
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                summary = build_index(corpus_paths=[SHIPPED_CORPUS_DIR], index_dir=Path(tmp), embedder=embedder,
                                      params=ChunkParams(), batch_size=settings.embed_batch_size)
                rate = summary.embedded_chunks / max(summary.embed_seconds, 1e-9)
                _ = time.perf_counter() - started
                engine = Engine(index=load_current(Path(tmp)), embedder=embedder)
                for loaded in ([False] if args.no_load else [False, True]):
                    stop = mp.Event()
                    busy = mp.Process(target=_busy, args=(stop,), daemon=True) if loaded else None
                    if busy:
                        busy.start()
                        time.sleep(0.5)
                    try:
                        m = measure(engine, questions, args.rounds)
                    finally:
                        if busy:
                            stop.set()
                            busy.join(5)
                    print(f"{runtime:<10} {threads:>3} {'busy' if loaded else 'quiet':>5} {m['encode_p50']:>11.1f} "
                          f"{m['ask_p50']:>8.1f} {m['ask_p95']:>8.1f} {m['ask_max']:>8.1f} {rate:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
