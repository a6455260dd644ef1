"""The corpus's Latin word that e2k would write as a given katakana word (アップル → apple), found
by rendering only a few likely words, not the whole Latin vocabulary.

e2k renders ~2 ms a word: the whole vocabulary of the 8 SQuAD articles (8,200 Latin words) took
28 s, paid at every index swap's warm-up, and a large English corpus would take hours. A lookup
here takes the Latin words whose consonant skeleton (``phonetic.skeleton`` of the spelling's key)
is within two edits of the katakana word's, ranks them by the phonetic distance of the two keys,
and renders the closest ``RENDERED_PER_LOOKUP`` of them; each rendering is cached by the bridge,
each answer here. The spelling's key is a rough guide to e2k's rendering (theatre, schedule), so
this finds most, not all, of what rendering every word found: measured on the katakana words of the
three evaluation corpora and their questions where sound alone finds nothing, the same word for
1,084 of 1,122 on SQuAD's vocabulary (misses: iron for アイセン, but also theatre for シアター),
79 of 79 on JSQuAD's, 27 of 27 on the shipped corpus's; up to ~160 ms for a new katakana word.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from kiji.retrieval.lexical.kana import deletions, edit_distance_le1, kana_key
from kiji.retrieval.lexical.phonetic import distance, english_key, katakana_key, skeleton

#: Latin words rendered per lookup, the closest by sound first (see the module docstring).
RENDERED_PER_LOOKUP = 80
#: Consonant skeleton edits between a katakana word and a Latin word it may be the rendering of.
SKELETON_EDITS = 2
_CACHED = 100_000


def _deletions(s: str, depth: int) -> Iterator[str]:
    """``s`` and what deleting up to ``depth`` characters leaves (repeats included)."""
    yield s
    if depth:
        for d in deletions(s):
            yield from _deletions(d, depth - 1)


def _within(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance of ``a`` and ``b`` at most ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= limit


class RenderedLatin:
    """Latin vocabulary words by the deletions of their skeletons. Thread-safe."""

    def __init__(self, latin_words: Iterable[str], render: Callable[[str], str],
                 per_lookup: int = RENDERED_PER_LOOKUP) -> None:
        self._render = render
        self._per_lookup = per_lookup
        self._key: dict[str, str] = {}  # word -> spelling key
        self._skeletons: dict[str, list[str]] = {}  # skeleton -> words
        self._variants: dict[str, set[str]] = {}  # skeleton or a deletion of it -> skeletons
        for word in latin_words:
            k = english_key(word)
            self._key[word] = k
            sk = skeleton(k)
            if sk not in self._skeletons:
                self._skeletons[sk] = []
                for d in _deletions(sk, SKELETON_EDITS):
                    self._variants.setdefault(d, set()).add(sk)
            self._skeletons[sk].append(word)
        self._found: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def candidates(self, katakana: str) -> list[str]:
        """The Latin words worth rendering for ``katakana``, closest by sound first."""
        q = katakana_key(katakana)
        sq = skeleton(q)
        skeletons: set[str] = set()
        for d in set(_deletions(sq, SKELETON_EDITS)):
            skeletons.update(self._variants.get(d, ()))
        words = [w for sk in skeletons if _within(sq, sk, SKELETON_EDITS) for w in self._skeletons[sk]]
        words.sort(key=lambda w: (distance(q, self._key[w]), w))
        return words[: self._per_lookup]

    def word_for(self, katakana: str) -> str | None:
        """The candidate whose rendering is spelt like ``katakana`` (loosely: ``kana_key``), else
        one a kana away (for words of four kana or more), the closest by sound first."""
        with self._lock:
            if katakana in self._found:
                return self._found[katakana]
        key = kana_key(katakana)
        rendered = [(w, kana_key(self._render(w))) for w in self.candidates(katakana)]
        found = next((w for w, k in rendered if k == key), None)
        if found is None and len(key) >= 4:
            found = next((w for w, k in rendered if edit_distance_le1(key, k)), None)
        with self._lock:
            if len(self._found) > _CACHED:
                self._found.clear()  # a bound, as for the bridge's renderings
            self._found[katakana] = found
        return found
