"""Compact index benchmark for issue 15 (a script, not a test): memory, build time, search latency
and recall@10 of the compact chunk index (``ivf-sq8``) at millions of synthetic passages, and the
size of int8 sentence vectors.

Usage (from the repository root; the 1M run takes ~5 minutes on 2 cores, 3M ~15):

    .venv/bin/python bench/compact_bench.py                        # 1M, with HNSW over SQ8 for comparison
    .venv/bin/python bench/compact_bench.py --sizes 1000000,3000000 --no-compare

Vectors are synthetic but shaped like the real ones: multilingual-e5-small vectors of one corpus
share a large common direction (the mean of the shipped corpus' vectors has norm 0.92; two
unrelated passages have cosine ~0.85), so the generator takes the mean and the principal
directions (with their variances) of the current index's vectors (``KIJI_INDEX_DIR``, built by
setup), draws topic centres from that distribution and passages around the centres in each
topic's own 16-d subspace, and normalises. Checked: pairwise cosine 0.85 and mean norm 0.92, as
the real vectors. Questions are held-out draws from the same distribution. Topics hold ~10
passages whatever the size (the harder case: with a fixed 20,000 topics, 1M passages gave
recall@10 0.986 at nprobe 8, since each question's neighbours then share its list).

Nothing holds all vectors at once: they are generated in chunks of 100k (deterministically, by
chunk number), the index is trained on a sample and filled chunk by chunk, and the exact top 10
of every question is merged chunk by chunk. The index is built by the production code
(``FaissIndex.ivf_sq8``); ``nprobe`` is swept and the smallest with recall@10 >= 0.95 reported.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from kiji.retrieval.index.compact import Int8Vectors
from kiji.retrieval.index.store import load_current
from kiji.retrieval.index.vector_index import FaissIndex, ivf_lists, ivf_train_size
from kiji.settings import Settings

CHUNK = 100_000
#: The dimension of the vectors generated: the current index's (768 for EmbeddingGemma, 384 for e5-small),
#: set when the generator reads it.
DIM = 384


def say(*parts: object) -> None:
    print(*parts, flush=True)


class Generator:
    """Unit vectors with the real vectors' mean, spectrum and topic structure (see the docstring)."""

    def __init__(self, n: int, seed: int = 0, per_topic: int = 10, rank: int = 16, centre_share: float = 0.7,
                 subspaces: int = 2000) -> None:
        index = load_current(Settings().index_dir)
        real = np.concatenate([index.sentence_vectors[np.arange(len(index.sentences))],
                               np.stack([index.vectors.reconstruct(i) for i in range(index.vectors.size)])])
        global DIM
        DIM = real.shape[1]
        self.mean = real.mean(axis=0).astype(np.float32)
        _, sv, pcs = np.linalg.svd(real - self.mean, full_matrices=False)
        sd = (sv / np.sqrt(len(real))).astype(np.float32)
        rng = np.random.default_rng(seed)
        topics = max(1, n // per_topic)
        floor = float(sd[-10:].mean())
        z = rng.standard_normal((topics, len(sd)), dtype=np.float32) * sd * np.sqrt(centre_share)
        self.centres = z @ pcs.astype(np.float32) + rng.standard_normal((topics, DIM), dtype=np.float32) * floor / 2
        self.within = float(np.sqrt((sd**2).sum() * (1 - centre_share)))
        # Topics draw their 16-d subspace from a pool (memory stays bounded at 10M passages).
        self.bases = rng.standard_normal((subspaces, rank, DIM), dtype=np.float32)
        self.bases /= np.linalg.norm(self.bases, axis=2, keepdims=True)
        self.seed, self.rank = seed, rank
        self.real_count = len(real)

    def chunk(self, number: int, n: int = CHUNK) -> np.ndarray:
        rng = np.random.default_rng((self.seed, number))
        which = rng.integers(0, len(self.centres), n)
        z = rng.standard_normal((n, self.rank), dtype=np.float32) * (self.within / np.sqrt(self.rank))
        x = self.mean + self.centres[which]
        basis = which % len(self.bases)
        for r in range(self.rank):
            x += z[:, r : r + 1] * self.bases[basis, r, :]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)

    def chunks(self, n: int) -> list[int]:
        return list(range((n + CHUNK - 1) // CHUNK))


def exact_top10(gen: Generator, n: int, queries: np.ndarray) -> np.ndarray:
    """Exact top 10 by inner product over ``n`` generated vectors, merged chunk by chunk."""
    best_s = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 10), dtype=np.int64)
    for c in gen.chunks(n):
        x = gen.chunk(c, min(CHUNK, n - c * CHUNK))
        scores = queries @ x.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        s = np.concatenate([best_s, np.take_along_axis(scores, top, axis=1)], axis=1)
        i = np.concatenate([best_i, top + c * CHUNK], axis=1)
        keep = np.argsort(-s, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(s, keep, axis=1), np.take_along_axis(i, keep, axis=1)
    return best_i


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / truth.size


def p50_ms(index: FaissIndex, queries: np.ndarray) -> float:
    import faiss

    faiss.omp_set_num_threads(1)  # serving searches one question on one thread
    for q in queries[:10]:
        index.search(q[None, :], 10)
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search(q[None, :], 10)
        times.append((time.perf_counter() - started) * 1000)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    return statistics.median(times)


def file_bytes(index: FaissIndex) -> int:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        path = Path(tmp) / "v.faiss"
        index.save(path)
        return path.stat().st_size


def sweep(index: FaissIndex, queries: np.ndarray, truth: np.ndarray, label: str, settings: list[int],
          setter: str) -> tuple[int, float, float]:
    """Recall and p50 per setting; returns the first setting reaching 0.95 (or the last)."""
    rows: list[str] = []
    chosen: tuple[int, float, float] | None = None
    last = (0, 0.0, 0.0)
    for value in settings:
        if setter == "nprobe":
            index.set_nprobe(value)
        else:
            index.set_ef_search(value)
        _, found = index.search(queries, 10)
        r = recall(found, truth)
        p50 = p50_ms(index, queries)
        rows.append(f"{setter}={value}: recall@10 {r:.3f}, p50 {p50:.2f} ms")
        if r >= 0.95 and chosen is None:
            chosen = (value, r, p50)
            break
        last = (value, r, p50)
    say(f"    {label}: " + "; ".join(rows))
    return chosen or last


def bench_size(gen: Generator, n: int, queries: np.ndarray, compare: bool) -> dict[str, float]:
    say(f"== {n:,} passages ({len(gen.chunks(n))} chunks of {CHUNK:,}; lists {ivf_lists(n)}, "
        f"training sample {ivf_train_size(n):,})")
    started = time.perf_counter()
    truth = exact_top10(gen, n, queries)
    say(f"    exact top 10 of {len(queries)} questions: {time.perf_counter() - started:.1f}s")

    sample_rows = ivf_train_size(n)
    rng = np.random.default_rng(1)
    # A training sample drawn from every chunk (what the build's random sample is), never all at once.
    per_chunk = max(1, sample_rows // len(gen.chunks(n)))
    started = time.perf_counter()
    sample = np.concatenate([gen.chunk(c, min(CHUNK, n - c * CHUNK))[
        rng.choice(min(CHUNK, n - c * CHUNK), min(per_chunk, CHUNK), replace=False)] for c in gen.chunks(n)])
    spent = [time.perf_counter() - started]  # seconds generating, not building

    def batches():
        for c in gen.chunks(n):
            t = time.perf_counter()
            x = gen.chunk(c, min(CHUNK, n - c * CHUNK))
            spent.append(time.perf_counter() - t)
            yield x

    started = time.perf_counter()
    index = FaissIndex.ivf_sq8(n, sample, batches())
    build_s = time.perf_counter() - started - sum(spent[1:])
    say(f"    generating: {sum(spent):.0f}s (not counted); train + add: {build_s:.0f}s")
    del sample
    size = file_bytes(index)
    nprobe, r, p50 = sweep(index, queries, truth, "ivf-sq8", [8, 16, 32, 64, 128, 256], "nprobe")
    out = {"n": n, "bytes": size / n, "build_s": build_s, "nprobe": nprobe, "recall": r, "p50": p50}
    say(f"RESULT ivf-sq8 n={n:,}: {size / n:.0f} bytes/passage ({size / 2**20:,.0f} MiB), build "
        f"~{build_s:.0f}s (train + add, generation excluded), nprobe {nprobe}: recall@10 {r:.3f}, "
        f"p50 {p50:.2f} ms (1 thread); float32 flat would be {DIM * 4} bytes/passage")
    del index
    gc.collect()
    if compare:
        import faiss

        started = time.perf_counter()
        hnsw = faiss.index_factory(DIM, "HNSW32,SQ8", faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40  # type: ignore[attr-defined]  # the factory built an IndexHNSWSQ
        hnsw.train(gen.chunk(0, min(CHUNK, n)))
        for c in gen.chunks(n):
            hnsw.add(gen.chunk(c, min(CHUNK, n - c * CHUNK)))
        hnsw_s = time.perf_counter() - started
        wrapped = FaissIndex(hnsw, "hnsw")
        hsize = file_bytes(wrapped)
        ef, hr, hp50 = sweep(wrapped, queries, truth, "hnsw32-sq8", [16, 32, 64, 128, 256], "efSearch")
        say(f"RESULT hnsw32-sq8 n={n:,}: {hsize / n:.0f} bytes/passage, build {hnsw_s:.0f}s "
            f"(generation included), efSearch {ef}: recall@10 {hr:.3f}, p50 {hp50:.2f} ms")
        del hnsw, wrapped
        gc.collect()
    return out


def sentence_error(gen: Generator) -> None:
    x = gen.chunk(999, 20_000)
    q = gen.chunk(998, 200)
    packed = Int8Vectors.encode(x)
    exact, approx = q @ x.T, q @ packed[np.arange(len(x))].T
    top_same = np.mean(np.argmax(exact, axis=1) == np.argmax(approx, axis=1))
    say(f"RESULT int8 sentence vectors: {packed.nbytes / len(x):.0f} bytes/sentence (float32: {DIM * 4}); "
        f"cosine error max {np.abs(exact - approx).max():.5f}, mean {np.abs(exact - approx).mean():.6f}; "
        f"best sentence of 20,000 unchanged for {top_same * 100:.1f}% of 200 questions")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000", help="passage counts, comma-separated")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-compare", action="store_true", help="skip HNSW over SQ8 (runs at sizes <= 1M)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    gen = Generator(sizes[0])
    say(f"generator: mean and {gen.real_count - 1} principal directions of {gen.real_count} real vectors "
        f"from {Settings().index_dir}")
    probe = gen.chunk(0, 5000)
    pair = probe[:2000] @ probe[:2000].T
    say(f"    synthetic: mean pairwise cosine {pair[np.triu_indices(2000, 1)].mean():.3f}, "
        f"norm of the mean {np.linalg.norm(probe.mean(axis=0)):.3f}")
    sentence_error(gen)
    results = []
    for n in sizes:
        gen = Generator(n)
        results.append(bench_size(gen, n, gen.chunk(10**6, args.queries), not args.no_compare and n <= 1_000_000))
        del gen
        gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    say(f"peak resident memory of this benchmark: {peak:.1f} GiB")
    say("RESULT summary: n | bytes/passage | build s | nprobe | recall@10 | p50 ms")
    for r in results:
        say(f"  {r['n']:>11,} | {r['bytes']:>6.0f} | {r['build_s']:>7.0f} | {r['nprobe']:>5} | "
            f"{r['recall']:.3f} | {r['p50']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
