"""Nearest-neighbour search over normalised vectors; ids are row positions in the chunk table.

A small interface with FAISS behind it. Inner product on L2-normalised vectors is cosine similarity.
Small collections use exact search (``IndexFlatIP``); past a size threshold an HNSW graph trades a
little recall for speed, and the build measures that recall against exact search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kiji.errors import IndexCorrupt


class FaissIndex:
    def __init__(self, index: Any, kind: str) -> None:
        self._index = index  # a faiss.Index (IndexFlatIP or IndexHNSWFlat)
        self.kind = kind
        self.dim = int(index.d)

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
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        if len(vectors):
            index.add(vectors)
        return cls(index, kind)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, self.size))
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def reconstruct(self, row: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(int(row)), dtype=np.float32)

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
        kind = "hnsw" if "HNSW" in type(index).__name__ else "flat"
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
