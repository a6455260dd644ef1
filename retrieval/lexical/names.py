"""Names across scripts for the corpus at hand: its words indexed by phonetic key, so a name kiji
has never seen is still found in the other script (Gary Marcus → ゲーリー + マーカス, Databricks →
データ + ブリックス where the tokenizer split the name, ナデラ → nadella, Polo → マルコ・ポーロ).

Built from the index vocabulary when the lexical side first needs it: a key and a skeleton per
term (~10 µs a term). A lookup compares a query key with the few terms that share its consonant
skeleton, or one deletion of it, with the weighted distance of ``phonetic``; the closest terms
within the allowance win, so "Gates" finds ゲイツ and not also ゲート when the corpus has both.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kiji.retrieval.lexical.kana import KATAKANA_WORD, deletions
from kiji.retrieval.lexical.phonetic import (
    VOWEL_INDEL,
    allowance,
    distance,
    english_key,
    katakana_key,
    same_start,
    skeleton,
)
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer

#: Terms kept per lookup beyond the best: within this much of its cost.
TIE_MARGIN = 0.2
#: A term's key needs this many sounds to be matched fuzzily at all (ア, ノ are not names).
MIN_KEY = 3
#: Candidates verified per skeleton piece when a name is matched as two split terms.
SPLIT_CANDIDATES = 4
#: Two short words can spell almost anything loosely (British ~ ブロイ + ダッシュ): a split name
#: must be spelt nearly exactly (データ + ブリックス for e2k's データブリックス).
SPLIT_MAX_COST = 0.3


@dataclass(frozen=True, slots=True)
class NameMatch:
    """Corpus terms that spell the query name: one term, or the two pieces the tokenizer split it
    into. ``closeness`` is 1.0 for the same key, down to 0.5 at the edge of the allowance."""

    terms: tuple[str, ...]
    cost: float
    closeness: float


def katakana_terms(vocabulary: Iterable[str], tokenizer: JapaneseTokenizer) -> list[str]:
    """The vocabulary's katakana terms that the articles write in katakana. The tokenizer also
    indexes its katakana reading of a Latin word (herald → ヘラルド, so Japanese text meets the
    English word); those echo a Latin word the corpus holds anyway, and in an English corpus
    (8,000 Latin words, 2,000 echoes) they would make English question words sound like other
    English words (Harold → ヘラルド). ~10 µs a Latin word."""
    vocab = list(vocabulary)
    echoes: set[str] = set()
    for word in vocab:
        if word.isascii() and word.isalpha() and len(word) >= 2:
            echoes.update(t for t in tokenizer.tokens(word) if not t.isascii())
    return [t for t in vocab if len(t) >= 2 and KATAKANA_WORD.match(t) and t not in echoes]


def english_keys(word: str, rendered: str | None = None) -> list[str]:
    """Phonetic keys of an English word: e2k's katakana ``rendered`` when given, and the
    spelling's own key for words of five letters or more (spelling is a weak guide to a short
    word's sound: cat/cut; e2k knows better)."""
    spelt = english_key(word)
    keys = []
    if rendered:
        heard = katakana_key(rendered)
        # e2k now and then drops half a word (fastly -> ファス): trusted when its consonants
        # roughly agree with the spelling's.
        if abs(len(skeleton(heard)) - len(skeleton(spelt))) <= 1:
            keys.append(heard)
    if len(word) >= 5 or not keys:
        keys.append(spelt)
    return keys


def fold_accents(word: str) -> str:
    """``word`` without diacritics (Hervé → Herve, Schrödinger → Schrodinger)."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def accent_folded(vocabulary: Iterable[str]) -> dict[str, str]:
    """Latin vocabulary terms written with diacritics, by their plain spelling: a question
    typed on an English keyboard says "Herve" for the text's "Hervé"."""
    out: dict[str, str] = {}
    for term in vocabulary:
        if not term.isascii():
            plain = fold_accents(term)
            if plain != term and plain.isascii() and any(c.isalpha() for c in plain):
                out.setdefault(plain, term)
    return out


def name_parts(term: str) -> list[str]:
    """The words of a katakana name the tokenizer keeps whole (マルコ・ポーロ → マルコ, ポーロ):
    a question may name only one of them ("Polo")."""
    return [p for p in term.split("・") if len(p) >= 2] if "・" in term else []


def _closeness(cost: float, allowed: float) -> float:
    return 1.0 - 0.5 * min(cost / allowed, 1.0) if allowed > 0 else 1.0


class PhoneticIndex:
    """Terms by phonetic key and consonant skeleton. Read-only after construction (thread-safe)."""

    def __init__(self, terms: Iterable[str], key: Callable[[str], str],
                 parts: Callable[[str], Iterable[str]] | None = None) -> None:
        """``parts``: pieces of a term that also find it (the words of a name)."""
        self._terms: dict[str, list[str]] = {}  # key -> terms
        self._by_skeleton: dict[str, list[str]] = {}  # skeleton -> keys
        self._by_deletion: dict[str, list[str]] = {}  # one deletion of a skeleton -> keys
        for term in terms:
            self._add(key(term), term)
            for part in parts(term) if parts is not None else ():
                self._add(key(part), term)

    def _add(self, k: str, term: str) -> None:
        if len(k) < MIN_KEY:
            return
        if k in self._terms:
            if term not in self._terms[k]:
                self._terms[k].append(term)
            return
        self._terms[k] = [term]
        sk = skeleton(k)
        if not sk:
            return
        self._by_skeleton.setdefault(sk, []).append(k)
        if len(sk) >= 3:
            for d in set(deletions(sk)):
                self._by_deletion.setdefault(d, []).append(k)

    def __len__(self) -> int:
        return len(self._terms)

    def _candidates(self, sk: str) -> set[str]:
        found = set(self._by_skeleton.get(sk, ()))
        if len(sk) >= 3:
            found.update(self._by_deletion.get(sk, ()))  # a term with one more consonant
            for d in set(deletions(sk)):
                found.update(self._by_skeleton.get(d, ()))  # one fewer
                found.update(self._by_deletion.get(d, ()))  # one changed
        return found

    def match(self, query_keys: Sequence[str]) -> list[NameMatch]:
        """Terms whose key is within the allowance of one of ``query_keys`` (alternative keys of
        one word: its spelling, its e2k rendering), closest first, ties kept."""
        best: dict[str, tuple[float, float]] = {}  # key -> (cost, allowed)
        for q in query_keys:
            if len(q) < MIN_KEY:
                continue
            for k in self._candidates(skeleton(q)):
                if not same_start(q, k):
                    continue
                allowed = allowance(q, k)
                cost = distance(q, k, limit=allowed)
                if cost <= allowed and (k not in best or cost < best[k][0]):
                    best[k] = (cost, allowed)
        if not best:
            return []
        floor = min(c for c, _ in best.values())
        out = [NameMatch((t,), cost, _closeness(cost, allowed))
               for k, (cost, allowed) in best.items() if cost <= floor + TIE_MARGIN
               for t in self._terms[k]]
        return sorted(out, key=lambda m: (m.cost, m.terms))

    def match_split(self, query_keys: Sequence[str]) -> list[NameMatch]:
        """Two terms that together spell the query name (データ + ブリックス for Databricks, where
        the tokenizer split the corpus's データブリックス). Only for keys of four or more
        consonants, so that the pair says something; the best pair per query key."""
        out: list[NameMatch] = []
        for q in query_keys:
            sk = skeleton(q)
            if len(sk) < 4:
                continue
            found = self._split(q, sk)
            if found is not None:
                out.append(found)
        out.sort(key=lambda m: m.cost)
        return out[:1]

    def _split(self, q: str, sk: str) -> NameMatch | None:
        # Where each skeleton consonant starts in q (g after n is not in the skeleton).
        starts: list[int] = []
        prev = ""
        for i, c in enumerate(q):
            if c not in "aeiouyw" and not (c == "g" and prev == "n"):
                starts.append(i)
            prev = c
        best: NameMatch | None = None
        for s in range(1, len(sk)):
            cut = starts[s]
            left_q, right_q = q[:cut], q[cut:]
            lefts = self._near(left_q, self._by_skeleton.get(sk[:s], ()))
            rights = self._near(right_q, self._by_skeleton.get(sk[s:], ()))
            for lk, _ in lefts:
                for rk, _ in rights:
                    whole = lk + rk
                    allowed = min(allowance(q, whole), SPLIT_MAX_COST)
                    cost = distance(q, whole, limit=allowed)
                    if cost <= allowed and (best is None or cost < best.cost):
                        best = NameMatch((self._terms[lk][0], self._terms[rk][0]), cost,
                                         _closeness(cost, allowed))
        return best

    def _near(self, piece: str, keys: Iterable[str]) -> list[tuple[str, float]]:
        """The closest keys to one piece of a split query. Looser than a whole match (where a
        piece ends is a guess: パラン|ティア for "paran|ta"); the pair is checked as a whole."""
        scored = []
        for k in keys:
            if not same_start(piece, k):
                continue
            allowed = allowance(piece, k) + VOWEL_INDEL
            cost = distance(piece, k, limit=allowed)
            if cost <= allowed:
                scored.append((k, cost))
        scored.sort(key=lambda kc: kc[1])
        return scored[:SPLIT_CANDIDATES]
