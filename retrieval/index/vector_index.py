"""Nearest-neighbour search over normalised vectors; ids are row positions in the chunk table.

A small interface with FAISS behind it. Inner product on L2-normalised vectors is cosine similarity.
Small collections use exact search (``IndexFlatIP``); past a size threshold an HNSW graph trades a
little recall for speed, and the build measures that recall against exact search. Past the compact
threshold, ``ivf-sq8`` (an inverted file over 8-bit scalar-quantised vectors, 400 bytes a vector
instead of 1,536) trades a little more; the build picks ``nprobe`` for recall@10 >= 0.95.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from kiji.errors import IndexCorrupt

#: Index kinds and the FAISS classes that hold them.
KINDS = {"flat": "IndexFlatIP", "hnsw": "IndexHNSWFlat", "ivf-sq8": "IndexIVFScalarQuantizer"}
#: Fewest vectors a compact index's lists and 8-bit ranges are trained on.
IVF_TRAIN_SAMPLE = 200_000
#: Most inverted lists: 8,192 lists at 10M vectors keep k-means training to minutes on 2 cores.
IVF_MAX_LISTS = 8192


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: ~4 sqrt(n) (a power of two), and at least 39 training
    vectors per list, which faiss asks for (1M vectors: 4,096 lists of ~250)."""
    lists = 1 << max(0, round(np.log2(max(1.0, 4 * np.sqrt(n)))))
    return int(max(1, min(lists, n // 39, IVF_MAX_LISTS)))


def ivf_train_size(n: int) -> int:
    """Training vectors for ``n``: 40 per list (faiss asks for 39), at least ``IVF_TRAIN_SAMPLE``."""
    return min(n, max(IVF_TRAIN_SAMPLE, 40 * ivf_lists(n)))


class FaissIndex:
    def __init__(self, index: Any, kind: str) -> None:
        self._index = index  # a faiss.Index (see KINDS)
        self.kind = kind
        self.dim = int(index.d)
        if kind == "ivf-sq8":
            self._fit_quantizer()

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, *, kind: str = "flat", hnsw_m: int = 32,
              ef_construction: int = 200, ef_search: int = 128) -> FaissIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        elif kind == "ivf-sq8":
            return cls._build_ivf_sq8(vectors)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        if len(vectors):
            index.add(vectors)
        return cls(index, kind)

    @classmethod
    def _build_ivf_sq8(cls, vectors: np.ndarray, batch: int = 100_000) -> FaissIndex:
        n = len(vectors)
        rng = np.random.default_rng(0)
        size = ivf_train_size(n)
        sample = vectors if n <= size else vectors[np.sort(rng.choice(n, size, replace=False))]
        # Slices: faiss never sees a second full-size float copy.
        return cls.ivf_sq8(n, sample, (vectors[lo : lo + batch] for lo in range(0, n, batch)))

    @classmethod
    def ivf_sq8(cls, n: int, sample: np.ndarray, batches: Iterable[np.ndarray]) -> FaissIndex:
        """An ``ivf-sq8`` index for ``n`` vectors: lists and 8-bit ranges trained on ``sample``,
        then the vectors added batch by batch (a 10M-vector index never needs 10M floats at once).
        Past 4,096 lists the coarse quantizer is an HNSW graph: assigning each vector to its list
        by exact search over 8k centroids would dominate the build."""
        import faiss

        lists, dim = ivf_lists(n), sample.shape[1]
        coarse = f"IVF{lists}" if lists <= 4096 else f"IVF{lists}_HNSW32"
        index: Any = faiss.index_factory(dim, f"{coarse},SQ8", faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        for batch in batches:
            index.add(np.ascontiguousarray(batch, dtype=np.float32))
        index.make_direct_map()  # row -> list position, for reconstruct(row); saved with the index
        return cls(index, "ivf-sq8")

    @property
    def nlist(self) -> int | None:
        return int(self._index.nlist) if self.kind == "ivf-sq8" else None

    @property
    def nprobe(self) -> int | None:
        return int(self._index.nprobe) if self.kind == "ivf-sq8" else None

    def set_nprobe(self, nprobe: int) -> None:
        if self.kind == "ivf-sq8":
            self._index.nprobe = max(1, min(int(nprobe), int(self._index.nlist)))
            self._fit_quantizer()

    def _fit_quantizer(self) -> None:
        """An HNSW coarse quantizer must look at more centroids than the lists it returns: with
        its default efSearch (16) recall stopped at 0.986 for any nprobe; at 2 x nprobe it reached
        0.998 (200k e5-like vectors, 1,024 lists, bench/compact_bench.py's generator)."""
        import faiss

        quantizer = faiss.downcast_index(self._index.quantizer)
        if hasattr(quantizer, "hnsw"):
            quantizer.hnsw.efSearch = max(16, 2 * int(self._index.nprobe))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, self.size))
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def reconstruct(self, row: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(int(row)), dtype=np.float32)

    def all_finite(self, batch: int = 65_536) -> bool:
        """Whether every stored vector is finite: a NaN or Inf row scores NaN against every query and
        silently drops out of results. In batches (~100 MB of float32 at 384 dimensions); a flat
        index of 100k rows checks in ~20 ms."""
        for start in range(0, self.size, batch):
            rows = self._index.reconstruct_n(start, min(batch, self.size - start))
            if not np.isfinite(rows).all():
                return False
        return True

    def set_ef_search(self, ef: int) -> None:
        if self.kind == "hnsw":
            self._index.hnsw.efSearch = ef

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False) -> FaissIndex:
        import faiss

        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except Exception as exc:  # faiss raises RuntimeError with C++ text for any damage
            raise IndexCorrupt(f"cannot read the vector index {path.parent.name}/{path.name}: "
                               f"{read_error_cause(path, str(exc))}",
                               hint="rebuild with `kiji index build --full` or `kiji index rollback`") from None
        name = type(index).__name__
        kind = next((k for k, cls_name in KINDS.items() if cls_name == name), "flat")
        return cls(index, kind)


def read_error_cause(path: Path, message: str) -> str:
    """What is wrong with a vector file, in words: faiss's own text names a source file of faiss's
    build and a C++ signature, which help nobody (and were cut mid-path when shortened)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror})"
    if size == 0:
        return "the file is empty"
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror})"
    # Every FAISS index type's four-byte tag starts with "I" (IxFI: flat inner product, IHNf: HNSW).
    if "not recognized" in message or not head.startswith(b"I"):
        return f"not a FAISS index ({size} bytes with an unknown header)"
    if "read error" in message:
        return f"the file is truncated ({size} bytes, ends before the index does)"
    return f"the file is damaged ({size} bytes that FAISS cannot parse)"


def set_faiss_threads(threads: int) -> None:
    import faiss

    faiss.omp_set_num_threads(threads)


def recall_at_k(approx: FaissIndex, exact: FaissIndex, queries: np.ndarray, k: int = 10) -> float:
    """Share of the exact top-k that the approximate index also returns."""
    _, truth = exact.search(queries, k)
    _, found = approx.search(queries, k)
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return hits / float(truth.size)


def tune_nprobe(index: FaissIndex, vectors: np.ndarray, queries: np.ndarray, *, target: float = 0.95,
                k: int = 10, start: int = 16) -> float:
    """Raise an IVF index's ``nprobe`` (doubling from ``start``) until recall@k against exact search
    over ``vectors`` reaches ``target``; returns the recall reached. Exact results come from a
    brute-force pass (``faiss.knn``), not a second full-size index."""
    import faiss

    k = max(1, min(k, len(vectors)))
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    _, truth = faiss.knn(queries, np.ascontiguousarray(vectors, dtype=np.float32), k,
                         metric=faiss.METRIC_INNER_PRODUCT)
    nlist = index.nlist or 1
    nprobe = min(start, nlist)
    while True:
        index.set_nprobe(nprobe)
        _, found = index.search(queries, k)
        recall = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True)) / float(truth.size)
        if recall >= target or nprobe >= nlist:
            return recall
        nprobe *= 2
