"""Compact vectors for large corpora: sentence vectors as int8 rows with a scale each.

Every distinct sentence of every chunk has a vector (quotes are chosen by them): about five per
chunk, so they, not the chunk index, dominate an index's size. Past ``KIJI_COMPACT_THRESHOLD``
chunks a build stores them as int8 with one float32 scale per row (388 instead of 1,536 bytes at
384 dimensions) and the chunk vectors in a compressed FAISS index (``vector_index.py``).

Readers keep the float32 interface: ``Int8Vectors[rows]`` decodes just those rows, so
``index.sentence_vectors[rows] @ qvec`` and ``np.ascontiguousarray(index.sentence_vectors[rows])``
work whichever way a version was stored. The rounding error is at most half a step (the row's
largest component / 254) per component: on e5-like unit vectors a cosine moves by 2.3e-4 on
average and 1.5e-3 at most (``bench/compact_bench.py``); on the dev set every first quote and every
answer-or-decline stayed the same (README, scaling).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: Largest code: symmetric, so a row's sign pattern survives and zero stays zero.
_LEVELS = 127


class Int8Vectors:
    """Read-only float32 rows decoded on access from int8 codes and per-row scales."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        if codes.ndim != 2 or codes.dtype != np.int8:
            raise ValueError("codes must be a 2-d int8 array")
        if scales.shape != (codes.shape[0],) or scales.dtype != np.float32:
            raise ValueError("scales must be one float32 per row")
        self.codes = codes
        self.scales = scales

    @classmethod
    def encode(cls, vectors: np.ndarray) -> Int8Vectors:
        vectors = np.asarray(vectors, dtype=np.float32)
        peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, dtype=np.float32)
        scales = np.where(peak > 0, peak / _LEVELS, 1.0).astype(np.float32)
        codes = np.rint(vectors / scales[:, None]).clip(-_LEVELS, _LEVELS).astype(np.int8)
        return cls(codes, scales)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.codes.shape[0]), int(self.codes.shape[1]))

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scales.nbytes)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, rows: Any) -> np.ndarray:
        """Rows as float32: an int array or list (fancy indexing), a slice, or one int (a 1-d row)."""
        if isinstance(rows, tuple):
            raise TypeError("index rows only (decode them, then slice columns)")
        codes = self.codes[rows]
        return np.multiply(codes, self.scales[rows][..., None] if codes.ndim == 2 else self.scales[rows],
                           dtype=np.float32)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Every row decoded (``np.asarray(vectors)``): 4x the stored size, so only for small sets."""
        full = self[:]
        return full if dtype is None else full.astype(dtype)

    def save(self, codes_path: Path, scales_path: Path) -> None:
        for path, array in ((codes_path, self.codes), (scales_path, self.scales)):
            with path.open("wb") as fh:
                np.save(fh, array)
                fh.flush()
                os.fsync(fh.fileno())
