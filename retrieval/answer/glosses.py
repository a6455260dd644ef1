"""Glosses: a quote's key terms with their meaning in the reader's language, for a quote in the other one.

There is no translation without a language model, but kiji carries dictionaries offline. A
Japanese quote for an English reader: its nouns and verbs (Sudachi, long units) looked up in
JMdict (the first sense's first glosses, common entries first; a compound JMdict lacks, 従業員数,
as its longest known pieces, "employee + number"), katakana names in JMnedict or, failing that,
the corpus's own Latin spelling (the names-across-scripts index: エヌビディア → nvidia). An
English quote for a Japanese reader: its words through the English bridge's JMdict index into the
corpus's Japanese terms, names by e2k's katakana. The question's matched terms come first, then
names, then the rest in order of the text, ``MAX_GLOSSES`` at most, shown in the quote's order.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kiji.retrieval.lexical.jmdict import common_entries, default_db_path, sense_glosses
from kiji.retrieval.lexical.kana import KATAKANA_WORD
from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS, JapaneseTokenizer
from kiji.retrieval.models import Gloss, Language

#: Enough to carry a sentence's names and key words, few enough to read at a glance.
MAX_GLOSSES = 6
#: Glosses of one sense shown for a term ("fall; drop"): more reads like a dictionary page.
GLOSSES_PER_TERM = 2
_MAX_GLOSS_CHARS = 40
_HAS_KANJI_OR_KATAKANA = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\u30a1-\u30fa]")
_HAS_KANJI = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_PAREN = re.compile(r"\s*\([^)]*\)")
_ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]")
_CACHED = 50_000


@dataclass(frozen=True, slots=True)
class _Term:
    surface: str
    start: int
    lemma: str
    name: bool


class Glossary:
    """Thread-safe: each lookup opens its own read-only JMdict connection; meanings are cached."""

    def __init__(self, tokenizer: JapaneseTokenizer, db_path: str | Path | None = None, *,
                 latin_for: Callable[[str], str | None] | None = None,
                 japanese_for: Callable[[str], str | None] | None = None,
                 rarity: Callable[[str], float] | None = None) -> None:
        self.tokenizer = tokenizer
        self._rarity = rarity
        self._uri = Path(db_path or default_db_path()).resolve().as_uri() + "?mode=ro"
        self._latin_for = latin_for
        self._japanese_for = japanese_for
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()

    # --- the public call ---------------------------------------------------------------------

    def glosses(self, text: str, *, text_language: Language, reader: Language,
                first: Iterable[str] = (), limit: int = MAX_GLOSSES) -> list[Gloss]:
        """Glosses of ``text`` for a ``reader`` of the other language (none for the same one);
        ``first``: terms of ``text`` that matched the question, glossed before the others."""
        if text_language == reader:
            return []
        if text_language == "ja":
            terms = self._japanese_terms(text)
            meanings = self._english_meanings(terms)
        else:
            terms = self._english_terms(text)
            meanings = self._japanese_meanings(terms)
        wanted = [t.casefold() for t in first]
        found = [t for t in terms if meanings.get(t.surface)]
        if self._rarity is not None:
            # After the question's terms and the names, the rarest words: 時々 says less than 時間外.
            rarity = self._rarity
            found.sort(key=lambda t: -rarity(t.surface.casefold()))
        chosen: list[_Term] = []
        seen: set[str] = set()
        for tier in (lambda t: any(w in t.surface.casefold() or t.surface.casefold() in w for w in wanted),
                     lambda t: t.name, lambda t: True):
            for term in found:
                if len(chosen) < limit and term.surface not in seen and tier(term):
                    chosen.append(term)
                    seen.add(term.surface)
        chosen.sort(key=lambda t: t.start)
        return [Gloss(term=t.surface, gloss=meanings[t.surface] or "") for t in chosen]

    # --- Japanese text -> English meanings ---------------------------------------------------

    def _japanese_terms(self, text: str) -> list[_Term]:
        out = []
        for m in self.tokenizer.morphemes(text):
            surface = m.surface()
            pos = m.part_of_speech()
            # Nouns carry a quote's topic; verbs and adverb-like nouns (受け, 時々, 今日) would crowd
            # them out of the few glosses shown.
            if pos[0] != "名詞" or pos[1] in ("数詞", "非自立可能", "助動詞語幹") or pos[2] == "副詞可能":
                continue
            if not _HAS_KANJI_OR_KATAKANA.search(surface) or surface.isascii():
                continue
            if len(surface) < 2 and not KATAKANA_WORD.match(surface):
                continue  # one kanji: 人, 年, 数 (counters and suffixes rather than terms)
            lemma = surface
            out.append(_Term(surface, m.begin(), lemma, pos[1] == "固有名詞"))
        return out

    def _english_meanings(self, terms: list[_Term]) -> dict[str, str | None]:
        lemmas = {t.lemma for t in terms}
        known = self._cached(lemmas, self._look_up_japanese)
        out: dict[str, str | None] = {}
        names = self._cached({"NE:" + t.lemma for t in terms}, self._look_up_names)
        for i, t in enumerate(terms):
            meaning = known.get(t.lemma)
            name = names.get("NE:" + t.lemma)
            if meaning is None and name is None and KATAKANA_WORD.match(t.surface) and self._latin_for:
                name = self._latin_for(t.surface)  # the corpus writes it in Latin elsewhere
            if name is not None:
                # A katakana word JMnedict or the corpus knows as a name (ゲイリー → Gary) is a name.
                terms[i] = _Term(t.surface, t.start, t.lemma, True)
            out[t.surface] = meaning or name
        return out

    def _look_up_japanese(self, words: list[str]) -> dict[str, str | None]:
        """JMdict meanings of whole words; a word JMdict lacks as its longest known pieces."""
        pieces = {w[i:j] for w in words for i in range(len(w)) for j in range(i + 1, min(len(w), i + 8) + 1)}
        meaning = self._query(sorted(pieces))
        out: dict[str, str | None] = {}
        for word in words:
            if word in meaning or not _HAS_KANJI.search(word):
                # Katakana is not cut into pieces: ブロードコム is no ブロード + コム.
                out[word] = meaning.get(word)
                continue
            parts: list[str] = []
            i = 0
            while i < len(word):
                j = next((j for j in range(min(len(word), i + 8), i, -1) if word[i:j] in meaning), None)
                if j is None:
                    parts = []
                    break
                parts.append(meaning[word[i:j]].split(";")[0])
                i = j
            out[word] = " + ".join(parts) if len(parts) > 1 else None
        return out

    def _look_up_names(self, keys: list[str]) -> dict[str, str | None]:
        """JMnedict's English for katakana words (keys ``NE:word``): ゲイリー → Gary."""
        words = [k[3:] for k in keys if KATAKANA_WORD.match(k[3:])]
        found: dict[str, str] = {}
        if words:
            con = sqlite3.connect(self._uri, uri=True)
            try:
                for start in range(0, len(words), 500):
                    batch = words[start:start + 500]
                    marks = ",".join("?" * len(batch))
                    for text, name in con.execute(
                            f"SELECT k.text, g.text FROM NEKana k JOIN NETranslation t ON t.idseq = k.idseq"
                            f" JOIN NETransGloss g ON g.tid = t.ID WHERE k.text IN ({marks})"
                            f" ORDER BY k.idseq, g.rowid", batch):
                        found.setdefault(text, _short(name))
            finally:
                con.close()
        return {k: found.get(k[3:]) for k in keys}

    def _query(self, texts: list[str]) -> dict[str, str]:
        """The first sense of each spelling JMdict has, its first glosses."""
        if not texts:
            return {}
        con = sqlite3.connect(self._uri, uri=True)
        try:
            spelt: dict[str, list[tuple[bool, int]]] = {}
            for start in range(0, len(texts), 500):
                batch = texts[start:start + 500]
                marks = ",".join("?" * len(batch))
                for table, tags in (("Kanji", "KJP"), ("Kana", "KNP")):
                    # Whether this spelling itself is tagged common: 数 is common as かず "number",
                    # not as the rare spelling of しばしば "often" that comes first in JMdict.
                    for text, idseq, tagged in con.execute(
                            f"SELECT k.text, k.idseq, EXISTS(SELECT 1 FROM {tags} p WHERE p.kid = k.ID)"
                            f" FROM {table} k WHERE k.text IN ({marks})", batch):
                        spelt.setdefault(text, []).append((bool(tagged), idseq))
            ids = sorted({i for v in spelt.values() for _, i in v})
            senses = sense_glosses(con, ids)
            common = common_entries(con, ids)
        finally:
            con.close()
        out: dict[str, str] = {}
        for text, idseqs in spelt.items():
            # The everyday entry of a spelling first, then JMdict's order (its entry numbers).
            for _, idseq in sorted(idseqs, key=lambda ti: (not ti[0], ti[1] not in common, ti[1])):
                glosses = senses.get(idseq) or []
                if glosses and glosses[0]:
                    unique: dict[str, str] = {}
                    for g in glosses[0]:
                        unique.setdefault(_PAREN.sub("", g).strip().casefold(), _PAREN.sub("", g).strip())
                    kept = list(unique.values())
                    out[text] = _short("; ".join(kept[:GLOSSES_PER_TERM]))
                    break
        return out

    # --- English text -> Japanese meanings ---------------------------------------------------

    def _english_terms(self, text: str) -> list[_Term]:
        out = []
        for m in _ENGLISH_WORD.finditer(text):
            word = m.group(0)
            if len(word) < 3 or word.lower() in ENGLISH_STOPWORDS:
                continue
            name = word[0].isupper() and m.start() > 0 and text[max(0, m.start() - 2):m.start()].strip() not in (".", "")
            out.append(_Term(word, m.start(), word.lower(), name or word.isupper()))
        return out

    def _japanese_meanings(self, terms: list[_Term]) -> dict[str, str | None]:
        if self._japanese_for is None:
            return {}
        out: dict[str, str | None] = {}
        for t in terms:
            if t.surface not in out:
                out[t.surface] = self._cached({t.surface}, lambda ws: {w: self._japanese_for(w) for w in ws}
                                              if self._japanese_for else {}).get(t.surface)
        return out

    def _cached(self, keys: Iterable[str], look_up: Callable[[list[str]], dict[str, str | None]]
                ) -> dict[str, str | None]:
        keys = list(dict.fromkeys(keys))
        with self._lock:
            todo = [k for k in keys if k not in self._cache]
        if todo:
            found = look_up(todo)
            with self._lock:
                if len(self._cache) > _CACHED:
                    self._cache.clear()  # a bound, like the bridges' caches
                for k in todo:
                    self._cache[k] = found.get(k)
        with self._lock:
            return {k: self._cache.get(k) for k in keys}


def _short(meaning: str) -> str:
    meaning = " ".join(meaning.split())
    return meaning if len(meaning) <= _MAX_GLOSS_CHARS else meaning[:_MAX_GLOSS_CHARS - 1].rstrip() + "…"
