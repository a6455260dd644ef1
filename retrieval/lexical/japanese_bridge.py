"""Japanese -> English query terms: the reverse of ``bridge.py``, for Japanese questions over English text.

A Japanese question shares no tokens with English articles but the katakana echoes Sudachi writes for
some English words, so BM25 and the term-coverage signals saw almost nothing, and the answer model
declined most such questions although dense retrieval ranked the answer well (a probe of 16 SQuAD
questions put into Japanese: rank@3 0.75, answered 0.25). JMdict is a Japanese -> English dictionary:
every sense of an entry whose English gloss is a word of the corpus maps the entry's spellings (kanji
and kana) to that word, here to each inflected form the corpus has (election -> elections).

Weights follow the English -> Japanese bridge (``weights.py``): W_GLOSS for a one-word gloss, the head
of a short gloss phrase W_PHRASE_HEAD and its other words W_PHRASE_WORD, decayed by sense rank and
gloss position, less for entries without a priority tag. Looked up per question token in JMdict's
SQLite file (~1 ms for a question's new tokens, while the question is embedded), not indexed ahead:
an index of every JMdict spelling whose gloss is a word of SQuAD's 8 articles held 81 MB.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from kiji.retrieval.lexical.english import clean_gloss, lemma_candidates
from kiji.retrieval.lexical.jmdict import (
    common_entries,
    default_db_path,
    gloss_decay,
    phrase_words,
    sense_glosses,
)
from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS
from kiji.retrieval.lexical.weights import (
    MAX_TARGETS,
    UNCOMMON,
    W_GLOSS,
)

_ENGLISH_WORD = re.compile(r"^[a-z][a-z'\-]*[a-z]$")
#: Translations weaker than this are not kept (the fourth sense's gloss, a phrase's minor word).
MIN_JA_WEIGHT = 0.3
#: Factor for a lemma's other forms in the corpus: under 0.6, the confident-term line.
OTHER_FORM = 0.6
_CACHED = 100_000


class JapaneseBridge:
    """Japanese token -> {English vocabulary word: weight}. Thread-safe: each lookup opens its own
    read-only connection (~0.1 ms); answers are cached per token."""

    def __init__(self, vocabulary: Iterable[str], db_path: str | Path | None = None, *,
                 max_targets: int = MAX_TARGETS) -> None:
        # Each corpus word under the lemmas it may be a form of (elections -> election).
        self._forms: dict[str, dict[str, float]] = {}
        for word in vocabulary:
            if _ENGLISH_WORD.match(word) and word not in ENGLISH_STOPWORDS:
                for lemma, f in lemma_candidates(word):
                    d = self._forms.setdefault(lemma, {})
                    d[word] = max(d.get(word, 0.0), f)
        self._uri = Path(db_path or default_db_path()).resolve().as_uri() + "?mode=ro"
        self._max_targets = max_targets
        self._cache: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def expand(self, tokens: Iterable[str]) -> dict[str, float]:
        """Weighted English vocabulary words for the Japanese tokens of a question."""
        tokens = [t for t in dict.fromkeys(tokens) if not t.isascii()]
        with self._lock:
            todo = [t for t in tokens if t not in self._cache]
        if todo:
            found = self._look_up(todo)
            with self._lock:
                if len(self._cache) > _CACHED:
                    self._cache.clear()  # a bound, as for the other bridge's renderings
                self._cache.update(found)
        out: dict[str, float] = {}
        for tok in tokens:
            for word, w in self._cache.get(tok, {}).items():
                if w > out.get(word, 0.0):
                    out[word] = w
        return out

    def translations(self, term: str) -> dict[str, float]:
        """The corpus's English words one Japanese token translates to, weighted."""
        return self.expand([term])

    def _look_up(self, tokens: list[str]) -> dict[str, dict[str, float]]:
        marks = ",".join("?" * len(tokens))
        con = sqlite3.connect(self._uri, uri=True)
        try:
            spelt: dict[int, list[str]] = {}
            for table in ("Kanji", "Kana"):
                for text, idseq in con.execute(
                        f"SELECT text, idseq FROM {table} WHERE text IN ({marks})", tokens):
                    spelt.setdefault(idseq, []).append(text)
            ids = sorted(spelt)
            senses = sense_glosses(con, ids)
            common = common_entries(con, ids)
        finally:
            con.close()
        out: dict[str, dict[str, float]] = {t: {} for t in tokens}
        for idseq, texts in spelt.items():
            base = 1.0 if idseq in common else UNCOMMON
            for lemma, w in self._weigh(senses.get(idseq, [])).items():
                # One form of a lemma is a confident term; its other forms (falls, fell, fallen)
                # are loose ones, or a sentence would seem to lack most of what was asked.
                forms = sorted(self._forms[lemma].items(), key=lambda kv: (-kv[1], kv[0]))
                for k, (word, f) in enumerate(forms):
                    weight = w * f * base * (1.0 if k == 0 else OTHER_FORM)
                    for text in texts:
                        d = out[text]
                        if weight > d.get(word, 0.0):
                            d[word] = weight
        return {t: dict(sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[: self._max_targets])
                for t, d in out.items()}

    def _weigh(self, senses: list[list[str]]) -> dict[str, float]:
        """One entry's corpus lemmas, weighted, from its senses' glosses (``jmdict``'s weights)."""
        entry: dict[str, float] = {}
        for rank, glosses in enumerate(senses):
            for position, gloss in enumerate(glosses):
                key, is_verb = clean_gloss(gloss)
                words = key.split()
                if not words or len(words) > 4:
                    continue  # an explanation, not a translation
                decay = gloss_decay(rank, position)
                weighted = [(words[0], W_GLOSS)] if len(words) == 1 else phrase_words(words, is_verb)
                for lemma, w in weighted:
                    if lemma in self._forms and w * decay >= MIN_JA_WEIGHT:
                        entry[lemma] = max(entry.get(lemma, 0.0), w * decay)
        return entry
