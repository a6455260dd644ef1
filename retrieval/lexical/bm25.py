"""A small sparse BM25 over token lists (the lexical side's scorer)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class BM25:
    """Okapi BM25 over token lists, with a per-term postings index so a query touches only the
    documents that contain its terms.

    idf is the "+1" variant, ``log(1 + (N - df + 0.5) / (df + 0.5))``, which stays positive even
    for a term in every document, so adding a query term never lowers a score.
    """

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if k1 < 0 or not 0.0 <= b <= 1.0:
            raise ValueError("need k1 >= 0 and 0 <= b <= 1")
        self.k1 = float(k1)
        self.b = float(b)
        self.n_docs = len(docs)
        lengths = np.fromiter((len(d) for d in docs), dtype=np.float64, count=self.n_docs)
        self.doc_lengths = lengths
        avgdl = float(lengths.mean()) if self.n_docs and lengths.sum() > 0 else 1.0
        self.avgdl = avgdl

        # Collect (term, doc, tf) triples, then group by term into contiguous postings arrays.
        term_ids: dict[str, int] = {}
        t_list: list[int] = []
        d_list: list[int] = []
        f_list: list[int] = []
        for d, doc in enumerate(docs):
            counts: dict[str, int] = {}
            for tok in doc:
                counts[tok] = counts.get(tok, 0) + 1
            for tok, c in counts.items():
                tid = term_ids.get(tok)
                if tid is None:
                    tid = term_ids[tok] = len(term_ids)
                t_list.append(tid)
                d_list.append(d)
                f_list.append(c)
        self._term_ids = term_ids
        terms = np.asarray(t_list, dtype=np.int64)
        order = np.argsort(terms, kind="stable")
        self._post_docs = np.asarray(d_list, dtype=np.int32)[order]
        tf = np.asarray(f_list, dtype=np.float64)[order]
        df = np.bincount(terms, minlength=len(term_ids)).astype(np.int64)
        self._offsets = np.zeros(len(term_ids) + 1, dtype=np.int64)
        np.cumsum(df, out=self._offsets[1:])
        self._df = df
        self._idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        # Precompute each posting's saturated tf so a query is gather + multiply + scatter-add.
        norm = self.k1 * (1.0 - self.b + self.b * lengths / avgdl)
        self._post_weight = tf * (self.k1 + 1.0) / (tf + norm[self._post_docs])

    @property
    def vocabulary(self) -> set[str]:
        return set(self._term_ids)

    def __contains__(self, term: str) -> bool:
        return term in self._term_ids

    def __len__(self) -> int:
        return self.n_docs

    def df(self, term: str) -> int:
        tid = self._term_ids.get(term)
        return 0 if tid is None else int(self._df[tid])

    def idf(self, term: str) -> float:
        """idf of a term; an unseen term gets the idf of df=0 (it never scores anyway)."""
        tid = self._term_ids.get(term)
        if tid is None:
            return float(np.log1p((self.n_docs + 0.5) / 0.5))
        return float(self._idf[tid])

    def scores(self, query: dict[str, float] | Iterable[str]) -> np.ndarray:
        """BM25 score of every document. ``query`` maps term -> weight (a weight multiplies the
        term's contribution); a plain iterable of terms counts repeats. Unknown terms are ignored.
        """
        if not isinstance(query, dict):
            weights: dict[str, float] = {}
            for t in query:
                weights[t] = weights.get(t, 0.0) + 1.0
            query = weights
        out = np.zeros(self.n_docs, dtype=np.float64)
        for term, w in query.items():
            tid = self._term_ids.get(term)
            if tid is None or not w:
                continue
            lo, hi = self._offsets[tid], self._offsets[tid + 1]
            # Postings of one term hold each document once, so fancy-index += is exact here.
            out[self._post_docs[lo:hi]] += (w * self._idf[tid]) * self._post_weight[lo:hi]
        return out

    def top_k(self, query: dict[str, float] | Iterable[str], k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` best (doc index, score) pairs with a positive score, best first."""
        s = self.scores(query)
        if k <= 0 or not self.n_docs:
            return []
        k = min(k, self.n_docs)
        idx = np.argpartition(-s, k - 1)[:k] if k < self.n_docs else np.arange(self.n_docs)
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx if s[i] > 0]
