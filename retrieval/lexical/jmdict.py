"""The JMdict part of the bridge: a reverse index from English glosses to the corpus's Japanese terms.

Every Japanese vocabulary term is looked up in the JMdict SQLite file that jamdict ships, and the
English glosses of its senses become keys that map back to it (weighted by sense rank, gloss position
and how common the entry is); JMnedict adds English names of katakana terms, and a synonym hop
reaches terms whose glosses a question word shares a sense with. Built once per index version.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiji.retrieval.lexical.english import clean_gloss, fast_single_gloss, singular
from kiji.retrieval.lexical.kana import KATAKANA_WORD
from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS
from kiji.retrieval.lexical.weights import (
    GLOSS_POSITION,
    KANA_ONLY,
    MAX_TARGETS,
    MIN_WEIGHT,
    SENSE_DECAY,
    SENSE_FLOOR,
    SYN_MIN_COUNT,
    UNCOMMON,
    W_GLOSS,
    W_INFLECTED,
    W_NAME,
    W_PHRASE,
    W_PHRASE_HEAD,
    W_PHRASE_WORD,
    W_SYNONYM,
)

_LATIN = re.compile(r"^[a-z0-9]")
_HIRAGANA = re.compile(r"^[\u3041-\u309f\u30fc]+$")
_CORP_SUFFIXES = frozenset({"corp", "corporation", "inc", "co", "ltd", "llc", "plc", "group",
                            "company", "gmbh", "sa", "ag", "holdings"})


@dataclass(frozen=True, slots=True)
class GlossIndex:
    """English key → {vocabulary term: weight}; ``max_phrase`` is the longest key in words;
    ``words``: every one-word English gloss in JMdict (lower case), i.e. the everyday English
    words, which the bridge does not try to match by sound as if they were names."""

    gloss: dict[str, dict[str, float]]
    max_phrase: int
    words: frozenset[str] = frozenset()


def default_db_path() -> str:
    """The JMdict SQLite file that jamdict ships (jamdict-data), found through jamdict itself."""
    try:
        from jamdict import Jamdict

        path = Jamdict().db_file
        if path and Path(path).is_file():
            return str(path)
    except Exception:  # pragma: no cover - falls through to the data package
        pass
    import jamdict_data

    return str(jamdict_data.JAMDICT_DB_PATH)


def build_gloss_index(vocabulary: Iterable[str], db_path: str | Path | None = None, *,
                      max_targets: int = MAX_TARGETS) -> GlossIndex:
    """Read JMdict once (in the calling thread) and index the glosses of ``vocabulary``'s terms."""
    db_path = db_path or default_db_path()
    # Only terms with Japanese script can be JMdict headwords; numbers and Latin cannot.
    terms = [t for t in vocabulary if not _LATIN.match(t)]
    hop1: dict[str, dict[str, float]] = {}
    # (key, term) -> the single-word glosses of the sense that gave the best weight: the
    # context used to check a synonym hop (see below).
    context: dict[tuple[str, str], frozenset[str]] = {}
    max_phrase = 1

    def put(key: str, term: str, w: float, ctx: frozenset[str] | None = None) -> None:
        if w < MIN_WEIGHT:
            return
        d = hop1.setdefault(key, {})
        if w > d.get(term, 0.0):
            d[term] = w
            if ctx is not None:
                context[(key, term)] = ctx

    uri = Path(db_path).resolve().as_uri() + "?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    try:
        # term -> [(idseq, matched_by_kana)]
        entries: dict[str, list[tuple[int, bool]]] = {}
        for batch in _batches(terms, 500):
            marks = ",".join("?" * len(batch))
            for text, idseq in con.execute(
                    f"SELECT text, idseq FROM Kanji WHERE text IN ({marks})", batch):
                entries.setdefault(text, []).append((idseq, False))
            for text, idseq in con.execute(
                    f"SELECT text, idseq FROM Kana WHERE text IN ({marks})", batch):
                entries.setdefault(text, []).append((idseq, True))
        idseqs = sorted({i for lst in entries.values() for i, _ in lst})

        senses = sense_glosses(con, idseqs)
        common = common_entries(con, idseqs)
        has_kanji: set[int] = set()
        for batch in _batches(idseqs, 500):
            marks = ",".join("?" * len(batch))
            for (idseq,) in con.execute(
                    f"SELECT DISTINCT idseq FROM Kanji WHERE idseq IN ({marks})", batch):
                has_kanji.add(idseq)

        for term, lst in entries.items():
            for idseq, by_kana in lst:
                base = 1.0 if idseq in common else UNCOMMON
                if by_kana and idseq in has_kanji and _HIRAGANA.match(term):
                    base *= KANA_ONLY
                for rank, glosses in enumerate(senses.get(idseq, [])):
                    cleaned = [clean_gloss(g) for g in glosses]
                    ctx = frozenset(k for k, _ in cleaned if k and " " not in k)
                    for gpos, (key, is_verb) in enumerate(cleaned):
                        if not key:
                            continue
                        decay = gloss_decay(rank, gpos, base)
                        words = key.split()
                        if len(words) == 1:
                            put(key, term, W_GLOSS * decay, ctx)
                            sing = singular(key)
                            if sing != key:
                                put(sing, term, W_GLOSS * W_INFLECTED * decay)
                            continue
                        if len(words) > 4:
                            continue  # an explanation, not a translation
                        phrase = " ".join(words[:-1] + [singular(words[-1])])
                        put(phrase, term, W_PHRASE * decay)
                        max_phrase = max(max_phrase, len(words))
                        for w, weight in phrase_words(words, is_verb):
                            put(w, term, weight * decay)

        # JMnedict: English names of katakana terms (companies, people, places abroad).
        kata = [t for t in terms if KATAKANA_WORD.match(t)]
        for batch in _batches(kata, 500):
            marks = ",".join("?" * len(batch))
            rows = con.execute(
                f"SELECT k.text, g.text FROM NEKana k JOIN NETranslation t ON t.idseq = k.idseq"
                f" JOIN NETransGloss g ON g.tid = t.ID WHERE k.text IN ({marks})", batch)
            for term, text in rows:
                key, _ = clean_gloss(text)
                words = [w for w in key.split() if w not in _CORP_SUFFIXES]
                if not words or len(words) > 3:
                    continue
                put(" ".join(words), term, W_NAME)
                if len(words) > 1:
                    put("".join(words), term, W_NAME)  # "soft bank" / "softbank"
                    max_phrase = max(max_phrase, len(words))

        cooc, english_words = _cooccurrence(con, set(hop1))
    finally:
        con.close()

    # Synonym hop: a question word that is not a gloss of any vocabulary term ("drop" when the
    # text says 下落, glossed "decline; fall") reaches it through words JMdict lists with it
    # in the same sense, anywhere in the dictionary. Drift ("drop" ~ "fall" ~ autumn 秋) is
    # blocked by asking the target's sense to share a second word with the question word's
    # synonyms: 下落 {decline, fall, ...} passes for "drop", 秋 {autumn, fall} does not.
    index: dict[str, dict[str, float]] = {k: dict(v) for k, v in hop1.items()}
    for word, partners in cooc.items():
        near = {k for k, c in partners.items() if c >= 1} | {word}
        out = index.get(word)
        for syn, count in partners.items():
            if count < SYN_MIN_COUNT:
                continue
            for term, weight in hop1[syn].items():
                sense_ctx = context.get((syn, term))
                if sense_ctx is None or len(sense_ctx & near) < 2:
                    continue
                if out is None:
                    out = index[word] = {}
                sw = W_SYNONYM * weight
                if sw >= MIN_WEIGHT and sw > out.get(term, 0.0):
                    out[term] = sw

    # Keep the strongest targets per key: a key with dozens of translations is a vague word
    # whose mass should not flood the query.
    for key, d in index.items():
        if len(d) > max_targets:
            top = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[: max_targets]
            index[key] = dict(top)
    return GlossIndex(gloss=index, max_phrase=min(max_phrase, 4), words=english_words)


def sense_glosses(con: sqlite3.Connection, idseqs: list[int]) -> dict[int, list[list[str]]]:
    """Each entry's senses, each the list of its English glosses, in dictionary order."""
    senses: dict[int, list[list[str]]] = {}
    for batch in _batches(idseqs, 500):
        marks = ",".join("?" * len(batch))
        # The language is filtered here, not in SQL: a lang condition makes SQLite scan the
        # SenseGloss_lang index (all 370k glosses) for every batch.
        rows = con.execute(
            f"SELECT s.idseq, s.ID, g.text, g.lang FROM Sense s"
            f" JOIN SenseGloss g ON g.sid = s.ID WHERE s.idseq IN ({marks})"
            f" ORDER BY s.idseq, s.ID, g.rowid", batch)
        last: tuple[int, int] | None = None
        for idseq, sid, text, lang in rows:
            if lang not in (None, "eng"):
                continue
            of_entry = senses.setdefault(idseq, [])
            if last != (idseq, sid):
                of_entry.append([])
                last = (idseq, sid)
            of_entry[-1].append(text)
    return senses


def common_entries(con: sqlite3.Connection, idseqs: list[int]) -> set[int]:
    """The entries with a priority tag (news1, ichi1, ...): the everyday entries of a spelling."""
    common: set[int] = set()
    for batch in _batches(idseqs, 500):
        marks = ",".join("?" * len(batch))
        for (idseq,) in con.execute(
                f"SELECT DISTINCT k.idseq FROM Kanji k JOIN KJP p ON p.kid = k.ID"
                f" WHERE k.idseq IN ({marks}) UNION SELECT DISTINCT k.idseq FROM Kana k"
                f" JOIN KNP p ON p.kid = k.ID WHERE k.idseq IN ({marks})", batch + batch):
            common.add(idseq)
    return common


def gloss_decay(sense_rank: int, position: int, base: float = 1.0) -> float:
    """A gloss's weight factor: the first senses are an entry's usual meanings, the first glosses
    of a sense its core meaning (this also breaks ties between the many terms a common word
    translates to)."""
    return base * max(SENSE_FLOOR, SENSE_DECAY**sense_rank) / (1.0 + GLOSS_POSITION * position)


def phrase_words(words: list[str], is_verb: bool) -> list[tuple[str, float]]:
    """The content words of a multi-word gloss, singular, weighted: English phrases are
    head-final ("power plant") except verb phrases ("fall down"), and the head alone is a fair,
    weaker translation (W_PHRASE_HEAD) than the phrase; the other words weaker still."""
    head = words[0] if is_verb else singular(words[-1])
    out = []
    for w in words:
        if w not in ENGLISH_STOPWORDS:
            w = singular(w)
            out.append((w, W_PHRASE_HEAD if w == head else W_PHRASE_WORD))
    return out


def _cooccurrence(con: sqlite3.Connection,
                  keys: set[str]) -> tuple[dict[str, dict[str, int]], frozenset[str]]:
    """For every single-word English gloss in JMdict: how many senses it shares with each of
    ``keys`` (the glosses of the vocabulary); and the set of those glosses."""
    by_sense: dict[int, list[str]] = {}
    glosses: set[str] = set()
    for sid, text, lang in con.execute("SELECT sid, text, lang FROM SenseGloss"):
        if lang not in (None, "eng"):
            continue
        key = fast_single_gloss(text)
        if key:
            by_sense.setdefault(sid, []).append(key)
            glosses.add(key)
    cooc: dict[str, dict[str, int]] = {}
    for words in by_sense.values():
        if len(words) < 2 or len(words) > 12:
            continue  # a 30-gloss sense is a grab bag, not a synonym set
        linked = [w for w in words if w in keys]
        if not linked:
            continue
        for a in words:
            row = cooc.get(a)
            for b in linked:
                if b != a:
                    if row is None:
                        row = cooc[a] = {}
                    row[b] = row.get(b, 0) + 1
    return cooc, frozenset(glosses)


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
