"""English -> Japanese query terms for the lexical side, built from the corpus vocabulary.

An English question shares almost no tokens with Japanese text, so BM25 alone would only see its
Latin names. The bridge turns it into weighted terms that *exist in the index vocabulary*:

* Latin words/numbers kept as they are (TSMC, H800, WeWork appear in Latin in Japanese text);
* katakana renderings of names and loanwords from ``e2k`` (Nokia -> ノキア), matched tolerantly
  against the katakana vocabulary because e2k's spelling and the author's often differ slightly;
* dictionary translations from JMdict: at construction every Japanese vocabulary term is looked
  up and its English glosses are indexed, so a question word maps to vocabulary terms in O(1);
* for katakana terms, JMnedict's English names (ソフトバンク -> "SoftBank");
* names no dictionary knows, matched by sound (``names.py``): the word's spelling and its e2k
  rendering against the romanised katakana vocabulary (Gary -> ゲーリー, Sundar -> スンダー), or
  against two vocabulary terms where the tokenizer split a name (Palantir -> パラン + ティア).

Construction reads the jamdict SQLite file in the calling thread and closes it; ``expand`` only
reads in-memory dicts and runs e2k's read-only numpy model, so it is safe to call from any thread.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kiji.retrieval.lexical.english import lemma_candidates
from kiji.retrieval.lexical.jmdict import build_gloss_index
from kiji.retrieval.lexical.kana import KATAKANA_WORD, deletions, edit_distance_le1, kana_key
from kiji.retrieval.lexical.names import (
    PhoneticIndex,
    accent_folded,
    english_keys,
    katakana_terms,
    name_parts,
)
from kiji.retrieval.lexical.phonetic import katakana_key
from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS, JapaneseTokenizer
from kiji.retrieval.lexical.weights import (
    MAX_TARGETS,
    PHRASE_CONSUMED,
    UNCOMMON,
    W_E2K_EXACT,
    W_E2K_NEAR,
    W_GLOSS,
    W_INFLECTED,
    W_LITERAL,
    W_PHONETIC,
    W_PHONETIC_SPLIT,
    W_SUDACHI_KANA,
)

_WORD = re.compile(r"[a-z0-9]+(?:['’\-.][a-z0-9]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
_CAPITALISED = re.compile(r"(?<=[a-z,;:] )[A-Z][A-Za-z]+|(?<=[a-z,;:] )[A-Z]{2,}")


class EnglishBridge:
    """Weighted Japanese/Latin query terms for an English (or mixed) question.

    ``expand`` returns only terms of ``vocabulary``. Build once per index version (the vocabulary
    changes with the corpus).
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        tokenizer: JapaneseTokenizer,
        *,
        db_path: str | Path | None = None,
        use_e2k: bool = True,
        max_targets: int = MAX_TARGETS,
    ) -> None:
        self.tokenizer = tokenizer
        self.vocabulary: frozenset[str] = frozenset(vocabulary)
        self.use_e2k = use_e2k
        self._e2k_cache: dict[str, str] = {}
        self._c2k: Any = None
        if use_e2k:
            from e2k import C2K

            # One shared model: e2k's numpy forward pass only reads its weights, so concurrent
            # calls are safe. "turbo" is ~3x faster than "base" and spells names the same.
            try:
                self._c2k = C2K(model="turbo")
            except TypeError:  # e2k before the distilled model: same API, slower
                self._c2k = C2K()

        # Katakana index: loose key -> terms; one-deletion neighbourhoods for edit distance 1.
        self._kana: dict[str, list[str]] = {}
        self._kana_del: dict[str, list[str]] = {}
        for term in self.vocabulary:
            if KATAKANA_WORD.match(term) and len(term) >= 2:
                key = kana_key(term)
                if len(key) < 2:
                    continue
                self._kana.setdefault(key, []).append(term)
                if len(key) >= 4:
                    for d in set(deletions(key)):
                        self._kana_del.setdefault(d, []).append(key)

        self._names = PhoneticIndex(katakana_terms(self.vocabulary, tokenizer), katakana_key,
                                    name_parts)
        self._plain = accent_folded(self.vocabulary)

        index = build_gloss_index(self.vocabulary, db_path, max_targets=max_targets)
        self._gloss = index.gloss
        self._max_phrase = index.max_phrase
        self._english_words = index.words

    # --- query time -----------------------------------------------------------------------------

    def to_katakana(self, word: str) -> str:
        """e2k's katakana rendering of an English word or name (Nokia → ノキア), cached."""
        cached = self._e2k_cache.get(word)
        if cached is not None:
            return cached
        kana = self._c2k(word)
        if len(self._e2k_cache) > 100_000:
            self._e2k_cache.clear()  # a bound, not an LRU: names recur, typos rarely do
        self._e2k_cache[word] = kana
        return kana

    def katakana_matches(self, kana: str) -> dict[str, float]:
        """Vocabulary terms spelt like ``kana`` (loosely), with W_E2K_EXACT or W_E2K_NEAR."""
        out: dict[str, float] = {}
        key = kana_key(kana)
        if len(key) < 2:
            return out
        for term in self._kana.get(key, ()):
            out[term] = W_E2K_EXACT
        if len(key) >= 4:
            # Symmetric deletions: a vocabulary key one longer has ``key`` among its deletions, one
            # shorter is a deletion of ``key``, a substitution shares a deletion with it.
            near: set[str] = set(self._kana_del.get(key, ()))
            for d in set(deletions(key)):
                near.update(self._kana_del.get(d, ()))
                if d in self._kana:
                    near.add(d)
            for k in near:
                if k != key and len(k) >= 4 and edit_distance_le1(k, key):
                    for term in self._kana[k]:
                        out.setdefault(term, W_E2K_NEAR)
        return out

    def is_dictionary_word(self, word: str) -> bool:
        """Whether ``word`` (or its lemma) is an everyday English word: a one-word JMdict gloss."""
        return any(c in self._english_words for c, f in lemma_candidates(word) if f >= W_INFLECTED)

    def name_matches(self, word: str, rendered: str | None = None) -> dict[str, float]:
        """Katakana vocabulary terms that sound like the English ``word`` (its spelling, and e2k's
        ``rendered`` katakana when given), weighted by closeness. A name the tokenizer split in
        the corpus comes back as its two pieces, weighted lower, unless ``word`` is an everyday
        English word (minister is not ミニ + スター)."""
        keys = english_keys(word, rendered)
        out: dict[str, float] = {}
        matches = self._names.match(keys)
        weight = W_PHONETIC
        if not matches and not self.is_dictionary_word(word):
            matches = self._names.match_split(keys)
            weight = W_PHONETIC_SPLIT
        for m in matches:
            for term in m.terms:
                out[term] = max(out.get(term, 0.0), weight * m.closeness)
        return out

    def expand(self, question: str) -> dict[str, float]:
        """Weighted vocabulary terms for ``question`` (English, Japanese or mixed)."""
        vocab = self.vocabulary
        result: dict[str, float] = {}

        def put(term: str, w: float) -> None:
            if term in vocab and w > result.get(term, 0.0):
                result[term] = w

        # 1. What the tokenizer sees: Latin words, numbers, any Japanese in the question, and
        #    Sudachi's katakana spelling of known English words.
        for tok in self.tokenizer.tokens(question):
            put(tok, W_SUDACHI_KANA if KATAKANA_WORD.match(tok) else W_LITERAL)

        text = unicodedata.normalize("NFKC", question)
        raw_words = _WORD.findall(text.lower())
        n = len(raw_words)
        # Capitalised inside a sentence: probably a name, worth transliterating even if the
        # dictionary also knows it as a word (Oracle, Apple).
        capitalised = {w.lower() for w in _CAPITALISED.findall(text)}

        # Latin names the articles write with diacritics (herve -> hervé); not everyday words
        # (oil is not the oïl of langue d'oïl).
        for word in raw_words:
            if word in self._plain and word not in vocab and len(word) >= 3 and (
                    word in capitalised or not self.is_dictionary_word(word)):
                put(self._plain[word], W_LITERAL)

        # 2. Glued names: "soft bank" -> softbank.
        for a, b in zip(raw_words, raw_words[1:], strict=False):
            put(a + b, W_LITERAL)

        # 3. Dictionary phrases ("power plants" -> "power plant"), longest first. Words inside a
        #    matched phrase count less on their own ("power" alone is not what was asked).
        consumed: set[int] = set()
        for size in range(min(self._max_phrase, 4), 1, -1):
            for i in range(n - size + 1):
                words = raw_words[i : i + size]
                if all(w in ENGLISH_STOPWORDS for w in words):
                    continue
                head = " ".join(words[:-1])
                for cand, f in lemma_candidates(words[-1]):
                    hits = self._gloss.get(f"{head} {cand}")
                    if hits:
                        consumed.update(range(i, i + size))
                        for term, w in hits.items():
                            put(term, w * f)

        # 4. Single words: JMdict glosses, then e2k for names and loanwords.
        kana_per_word: list[list[tuple[str, float]]] = [[] for _ in range(n)]
        done: dict[str, list[tuple[str, float]]] = {}
        for pos, word in enumerate(raw_words):
            if word in done:
                kana_per_word[pos] = done[word]
                continue
            found_terms: dict[str, float] = {}
            kana: list[tuple[str, float]] = []
            done[word] = kana
            kana_per_word[pos] = kana
            if word in ENGLISH_STOPWORDS or word.isdigit() or len(word) < 2:
                continue
            factor = PHRASE_CONSUMED if pos in consumed else 1.0
            found = False
            for cand, f in lemma_candidates(word, derive=True):
                hits = self._gloss.get(cand)
                if not hits:
                    continue
                if f >= W_INFLECTED and max(hits.values()) >= W_GLOSS * UNCOMMON * f:
                    found = True
                for term, w in hits.items():
                    if w * f > found_terms.get(term, 0.0):
                        found_terms[term] = w * f
            for term, w in found_terms.items():
                put(term, w * factor)
                if KATAKANA_WORD.match(term):
                    kana.append((term, w))
            name = _POSSESSIVE.sub("", word)  # Salesforce's -> salesforce
            if self.use_e2k and name.isalpha() and len(name) >= 3 and (
                    not found or name in vocab or name in capitalised):
                rendered = self.to_katakana(name)
                kana.append((rendered, W_E2K_EXACT))
                for term, w in self.katakana_matches(rendered).items():
                    put(term, w)
                # By sound, for names the articles do not write in Latin letters: words no
                # dictionary knows (sundar) and capitalised ones (Microsoft, Stripe); a
                # lower-case dictionary word is reached by its translations and e2k's exact
                # spelling above (valley is not バリュー).
                if name not in vocab and (name in capitalised or not self.is_dictionary_word(name)):
                    for term, w in self.name_matches(name, rendered).items():
                        put(term, w)

        # 5. Katakana compounds across two words: "data centers" -> データ + センター.
        for i in range(n - 1):
            for k1, w1 in kana_per_word[i][:6]:
                for k2, w2 in kana_per_word[i + 1][:6]:
                    put(k1 + k2, min(w1, w2))
        return result


