"""English -> Japanese query terms for the lexical side, built from the corpus vocabulary.

An English question shares almost no tokens with Japanese text, so BM25 alone would only see its
Latin names. The bridge turns it into weighted terms that *exist in the index vocabulary*:

* Latin words/numbers kept as they are (TSMC, H800, WeWork appear in Latin in Japanese text);
* katakana renderings of names and loanwords from ``e2k`` (Nokia -> ノキア), matched tolerantly
  against the katakana vocabulary because e2k's spelling and the author's often differ slightly;
* dictionary translations from JMdict: at construction every Japanese vocabulary term is looked
  up and its English glosses are indexed, so a question word maps to vocabulary terms in O(1);
* for katakana terms, JMnedict's English names (ソフトバンク -> "SoftBank").

Construction reads the jamdict SQLite file in the calling thread and closes it; ``expand`` only
reads in-memory dicts and runs e2k's read-only numpy model, so it is safe to call from any thread.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS, JapaneseTokenizer

#: Bump when the index layout or weighting changes, so stale cache files are not reused.
BRIDGE_VERSION = 3

# --- weights (one scale: 1.0 is "the question literally contains this term") ----------------------
W_LITERAL = 1.0  # Latin word / number / Japanese text present in the question
W_SUDACHI_KANA = 0.8  # Sudachi's katakana normalisation of an English word (Nokia -> ノキア)
W_E2K_EXACT = 0.9  # e2k rendering equal to a vocabulary term (after kana normalisation)
W_E2K_NEAR = 0.6  # ... one edit away
W_NAME = 0.9  # JMnedict name gloss (katakana vocabulary terms only)
W_GLOSS = 0.8  # JMdict single-word gloss in the first sense
W_PHRASE = 0.8  # JMdict multi-word gloss matched as a whole phrase
W_PHRASE_HEAD = 0.45  # the head word of a multi-word gloss ("drop" of "sudden drop")
W_PHRASE_WORD = 0.2  # another content word of it ("sudden")
W_SYNONYM = 0.5  # factor for a target reached through a JMdict co-gloss (see _build_gloss_index)
SYN_MIN_COUNT = 2  # senses two English words must share to count as synonyms
W_INFLECTED = 0.9  # factor when the question word had to be lemmatised to match
SENSE_DECAY = 0.75  # per later sense: the first senses are the usual meanings
SENSE_FLOOR = 0.3
GLOSS_POSITION = 0.08  # weight factor 1 / (1 + 0.08 * position of the gloss within its sense)
UNCOMMON = 0.6  # factor for JMdict entries without a frequency/priority tag
KANA_ONLY = 0.6  # hiragana term matched through a kana reading: homophones are likely
PHRASE_CONSUMED = 0.6  # factor for a word's own translations when it is part of a matched phrase
W_DERIVED = 0.7  # factor for a derivational relative ("bankrupt" -> "bankruptcy")
MAX_TARGETS = 12  # vocabulary terms kept per English key (a large vocabulary may want more)
MIN_WEIGHT = 0.05

_WORD = re.compile(r"[a-z0-9]+(?:['’\-.][a-z0-9]+)*")
_LATIN = re.compile(r"^[a-z0-9]")
_CAPITALISED = re.compile(r"(?<=[a-z,;:] )[A-Z][A-Za-z]+|(?<=[a-z,;:] )[A-Z]{2,}")
_KATAKANA = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb]+$")
_HIRAGANA = re.compile(r"^[\u3041-\u309f\u30fc]+$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_GLOSS_DROP = re.compile(r"[^a-z0-9'\- ]+")
_LEADING = ("to ", "a ", "an ", "the ")
_CORP_SUFFIXES = frozenset({"corp", "corporation", "inc", "co", "ltd", "llc", "plc", "group",
                            "company", "gmbh", "sa", "ag", "holdings"})

# Irregular English forms (general grammar, not corpus terms), so "fell" finds "fall".
_IRREGULAR = {
    "fell": "fall", "fallen": "fall", "went": "go", "gone": "go", "made": "make", "built": "build",
    "bought": "buy", "sold": "sell", "paid": "pay", "rose": "rise", "risen": "rise", "got": "get",
    "took": "take", "taken": "take", "thought": "think", "found": "find", "began": "begin",
    "begun": "begin", "lost": "lose", "spent": "spend", "left": "leave", "led": "lead",
    "ran": "run", "wrote": "write", "written": "write", "grew": "grow", "grown": "grow",
    "brought": "bring", "fought": "fight", "caught": "catch", "knew": "know", "known": "know",
    "chose": "choose", "chosen": "choose", "drove": "drive", "sank": "sink", "sunk": "sink",
    "struck": "strike", "won": "win", "saw": "see", "seen": "see", "gave": "give",
    "given": "give", "came": "come", "became": "become", "held": "hold", "kept": "keep",
    "meant": "mean", "sent": "send", "stood": "stand", "taught": "teach", "told": "tell",
    "understood": "understand", "shook": "shake", "broke": "break", "broken": "break",
    "stole": "steal", "stolen": "steal", "flew": "fly", "flown": "fly", "hid": "hide",
    "hidden": "hide", "rode": "ride", "ate": "eat", "eaten": "eat", "drew": "draw",
    "drawn": "draw", "threw": "throw", "thrown": "throw", "wore": "wear", "worn": "wear",
    "children": "child", "men": "man", "women": "woman", "people": "person", "mice": "mouse",
    "feet": "foot", "teeth": "tooth", "data": "data", "better": "good", "best": "good",
    "worse": "bad", "worst": "bad", "bigger": "big", "biggest": "big", "cheaper": "cheap",
    "cheapest": "cheap",
}

_DERIVATIONS = ("cy", "ment", "ion", "ation", "ure", "ness", "ity", "al")

# Kana that authors and e2k spell interchangeably; mapped together before comparing.
_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_KANA_FOLD = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴ": "ブ", "ヂ": "ジ", "ヅ": "ズ"}
_KANA_FOLD_RE = re.compile("|".join(sorted(_KANA_FOLD, key=len, reverse=True)))


def kana_key(term: str) -> str:
    """Loose katakana spelling: no long marks or middle dots, small kana as large, ヴ as ブ."""
    term = _KANA_FOLD_RE.sub(lambda m: _KANA_FOLD[m.group()], term)
    return term.replace("ー", "").replace("・", "").replace("ヽ", "").translate(_SMALL_KANA)


def _deletions(key: str) -> Iterator[str]:
    for i in range(len(key)):
        yield key[:i] + key[i + 1 :]


def _edit_distance_le1(a: str, b: str) -> bool:
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        return sum(x != y for x, y in zip(a, b)) == 1
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def lemma_candidates(word: str, derive: bool = False) -> list[tuple[str, float]]:
    """Possible dictionary forms of an English word with a confidence each (exact form first).

    Deliberately simple suffix stripping: a wrong candidate costs nothing unless it is itself a
    gloss, and the weight factor keeps the exact form ahead.
    """
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    out: list[tuple[str, float]] = [(word, 1.0)]
    seen = {word}

    def add(cand: str) -> None:
        if len(cand) >= 2 and cand not in seen:
            seen.add(cand)
            out.append((cand, W_INFLECTED))

    if word in _IRREGULAR:
        add(_IRREGULAR[word])
    n = len(word)
    if n > 3 and word.endswith("s") and not word.endswith("ss"):
        if word.endswith("ies") and n > 4:
            add(word[:-3] + "y")
        if word.endswith("es"):
            add(word[:-2])
        add(word[:-1])
    if n > 4 and word.endswith("ed"):
        add(word[:-2])
        add(word[:-1])
        if word[-3] == word[-4]:
            add(word[:-3])
        if word.endswith("ied"):
            add(word[:-3] + "y")
    if n > 5 and word.endswith("ing"):
        add(word[:-3])
        add(word[:-3] + "e")
        if word[-4] == word[-5]:
            add(word[:-4])
    if n > 5 and word.endswith("ly"):
        add(word[:-2])
        if word.endswith("ily"):
            add(word[:-3] + "y")
    if n > 4 and word.endswith(("er", "est")):
        add(word[: -2 if word.endswith("er") else -3])
    if derive:
        # Derivational relatives, weaker: a dictionary often glosses only the noun or the verb.
        base = [c for c, _ in out]
        for b in base:
            for suffix in _DERIVATIONS:
                cand = b + suffix
                if cand not in seen:
                    seen.add(cand)
                    out.append((cand, W_DERIVED))
            for suffix in _DERIVATIONS:
                if b.endswith(suffix) and len(b) - len(suffix) >= 4:
                    cand = b[: -len(suffix)]
                    if cand not in seen:
                        seen.add(cand)
                        out.append((cand, W_DERIVED))
    return out


def _clean_gloss(gloss: str) -> tuple[str, bool]:
    """A gloss as an index key: lower case, no parentheses or articles, no "to" of infinitives.
    Also says whether it was a verb ("to ..."), whose head word comes first."""
    g = _PAREN.sub(" ", gloss.lower()).replace("’", "'")
    g = _GLOSS_DROP.sub(" ", g)
    g = " ".join(g.split())
    is_verb = g.startswith("to ")
    changed = True
    while changed:
        changed = False
        for lead in _LEADING:
            if g.startswith(lead):
                g = g[len(lead) :]
                changed = True
    return g, is_verb


_SIMPLE_WORD = re.compile(r"^[a-z][a-z'\-]*$")


def _fast_single_gloss(gloss: str) -> str:
    """The key of a one-word gloss, or "" (cheap path for scanning all of JMdict)."""
    g = gloss.lower()
    if g.startswith("to "):
        g = g[3:]
    if _SIMPLE_WORD.match(g):
        return g
    if "(" in g or "[" in g:
        key, _ = _clean_gloss(g)
        return key if key and " " not in key else ""
    return ""


def _default_db_path() -> str:
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


def vocabulary_hash(vocabulary: Iterable[str], salt: str = "") -> str:
    h = hashlib.sha256(f"bridge-v{BRIDGE_VERSION}\n{salt}\n".encode())
    for term in sorted(set(vocabulary)):
        h.update(term.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


class EnglishBridge:
    """Weighted Japanese/Latin query terms for an English (or mixed) question.

    ``expand`` returns only terms of ``vocabulary``. Build once per index version (the vocabulary
    changes with the corpus); with ``cache_dir`` the JMdict part is stored in a JSON file keyed by
    a hash of the vocabulary and reused.
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        tokenizer: JapaneseTokenizer,
        *,
        cache_dir: str | Path | None = None,
        db_path: str | Path | None = None,
        use_e2k: bool = True,
        max_targets: int = MAX_TARGETS,
        _index: dict[str, Any] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self._max_targets = max_targets
        self.vocabulary: frozenset[str] = frozenset(vocabulary)
        self.use_e2k = use_e2k
        self._e2k_cache: dict[str, str] = {}
        self._db_tag = ""
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
            if _KATAKANA.match(term) and len(term) >= 2:
                key = kana_key(term)
                if len(key) < 2:
                    continue
                self._kana.setdefault(key, []).append(term)
                if len(key) >= 4:
                    for d in set(_deletions(key)):
                        self._kana_del.setdefault(d, []).append(key)

        if _index is None:
            db = str(db_path or _default_db_path())
            if cache_dir is not None:
                # The cache key covers the dictionary file too, so a JMdict update rebuilds.
                self._db_tag = f"{Path(db).name}:{Path(db).stat().st_size}:{max_targets}"
                _index = self._read_cache(Path(cache_dir))
        if _index is None:
            _index = self._build_gloss_index(db)
            if cache_dir is not None:
                self._write_cache(Path(cache_dir), _index)
        self._gloss: dict[str, dict[str, float]] = _index["gloss"]
        self._max_phrase = int(_index.get("max_phrase", 3))

    # --- persistence -----------------------------------------------------------------------------

    def _cache_file(self, cache_dir: Path) -> Path:
        return cache_dir / f"bridge-{vocabulary_hash(self.vocabulary, self._db_tag)}.json"

    def _read_cache(self, cache_dir: Path) -> dict[str, Any] | None:
        path = self._cache_file(cache_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if data.get("version") == BRIDGE_VERSION else None

    def _write_cache(self, cache_dir: Path, index: dict[str, Any]) -> None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = self._cache_file(cache_dir)
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)  # atomic: a concurrent reader sees the old file or the whole new one

    def save(self, path: str | Path) -> None:
        """Write the vocabulary and gloss index; ``load`` rebuilds the bridge without JMdict."""
        data = {"version": BRIDGE_VERSION, "vocabulary": sorted(self.vocabulary),
                "gloss": self._gloss, "max_phrase": self._max_phrase}
        p = Path(path)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(p)

    @classmethod
    def load(cls, path: str | Path, tokenizer: JapaneseTokenizer, *,
             use_e2k: bool = True) -> EnglishBridge:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("version") != BRIDGE_VERSION:
            raise ValueError(f"bridge file {path} has version {data.get('version')}, "
                             f"expected {BRIDGE_VERSION}")
        return cls(data["vocabulary"], tokenizer, use_e2k=use_e2k, _index=data)

    # --- construction: JMdict reverse index ------------------------------------------------------

    def _build_gloss_index(self, db_path: str | Path) -> dict[str, Any]:
        # Only terms with Japanese script can be JMdict headwords; numbers and Latin cannot.
        terms = [t for t in self.vocabulary if not _LATIN.match(t)]
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

            senses: dict[int, list[list[str]]] = {}
            common: set[int] = set()
            has_kanji: set[int] = set()
            for batch in _batches(idseqs, 500):
                marks = ",".join("?" * len(batch))
                # The language is filtered here, not in SQL: a lang condition makes SQLite scan
                # the SenseGloss_lang index (all 370k glosses) for every batch.
                rows = con.execute(
                    f"SELECT s.idseq, s.ID, g.text, g.lang FROM Sense s"
                    f" JOIN SenseGloss g ON g.sid = s.ID WHERE s.idseq IN ({marks})"
                    f" ORDER BY s.idseq, s.ID, g.rowid", batch)
                last: tuple[int, int] | None = None
                for idseq, sid, text, lang in rows:
                    if lang not in (None, "eng"):
                        continue
                    lst = senses.setdefault(idseq, [])
                    if last != (idseq, sid):
                        lst.append([])
                        last = (idseq, sid)
                    lst[-1].append(text)
                # Priority tags (news1, ichi1, ...) mark the everyday entries of a spelling.
                for (idseq,) in con.execute(
                        f"SELECT DISTINCT k.idseq FROM Kanji k JOIN KJP p ON p.kid = k.ID"
                        f" WHERE k.idseq IN ({marks}) UNION SELECT DISTINCT k.idseq FROM Kana k"
                        f" JOIN KNP p ON p.kid = k.ID WHERE k.idseq IN ({marks})", batch + batch):
                    common.add(idseq)
                for (idseq,) in con.execute(
                        f"SELECT DISTINCT idseq FROM Kanji WHERE idseq IN ({marks})", batch):
                    has_kanji.add(idseq)

            for term, lst in entries.items():
                for idseq, by_kana in lst:
                    base = 1.0 if idseq in common else UNCOMMON
                    if by_kana and idseq in has_kanji and _HIRAGANA.match(term):
                        base *= KANA_ONLY
                    for rank, glosses in enumerate(senses.get(idseq, [])):
                        sense_w = base * max(SENSE_FLOOR, SENSE_DECAY**rank)
                        cleaned = [_clean_gloss(g) for g in glosses]
                        ctx = frozenset(k for k, _ in cleaned if k and " " not in k)
                        for gpos, (key, is_verb) in enumerate(cleaned):
                            if not key:
                                continue
                            # The first glosses of a sense are its core meaning; this also
                            # breaks ties between the many terms a common word translates to.
                            decay = sense_w / (1.0 + GLOSS_POSITION * gpos)
                            words = key.split()
                            if len(words) == 1:
                                put(key, term, W_GLOSS * decay, ctx)
                                sing = _singular(key)
                                if sing != key:
                                    put(sing, term, W_GLOSS * W_INFLECTED * decay)
                                continue
                            if len(words) > 4:
                                continue  # an explanation, not a translation
                            phrase = " ".join(words[:-1] + [_singular(words[-1])])
                            put(phrase, term, W_PHRASE * decay)
                            max_phrase = max(max_phrase, len(words))
                            # English phrases are head-final ("power plant") except verb phrases
                            # ("fall down"); the head alone is a fair, weaker translation.
                            content = [w for w in words if w not in ENGLISH_STOPWORDS]
                            head = words[0] if is_verb else _singular(words[-1])
                            for w in content:
                                w = _singular(w)
                                put(w, term, (W_PHRASE_HEAD if w == head else W_PHRASE_WORD)
                                    * decay)

            # JMnedict: English names of katakana terms (companies, people, places abroad).
            kata = [t for t in terms if _KATAKANA.match(t)]
            for batch in _batches(kata, 500):
                marks = ",".join("?" * len(batch))
                rows = con.execute(
                    f"SELECT k.text, g.text FROM NEKana k JOIN NETranslation t ON t.idseq = k.idseq"
                    f" JOIN NETransGloss g ON g.tid = t.ID WHERE k.text IN ({marks})", batch)
                for term, text in rows:
                    key, _ = _clean_gloss(text)
                    words = [w for w in key.split() if w not in _CORP_SUFFIXES]
                    if not words or len(words) > 3:
                        continue
                    put(" ".join(words), term, W_NAME)
                    if len(words) > 1:
                        put("".join(words), term, W_NAME)  # "soft bank" / "softbank"
                        max_phrase = max(max_phrase, len(words))

            cooc = self._cooccurrence(con, set(hop1))
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
                for term, w in hop1[syn].items():
                    ctx = context.get((syn, term))
                    if ctx is None or len(ctx & near) < 2:
                        continue
                    if out is None:
                        out = index[word] = {}
                    sw = W_SYNONYM * w
                    if sw >= MIN_WEIGHT and sw > out.get(term, 0.0):
                        out[term] = sw

        # Keep the strongest targets per key: a key with dozens of translations is a vague word
        # whose mass should not flood the query.
        for key, d in index.items():
            if len(d) > self._max_targets:
                top = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[: self._max_targets]
                index[key] = dict(top)
        return {"version": BRIDGE_VERSION, "gloss": index, "max_phrase": min(max_phrase, 4)}

    @staticmethod
    def _cooccurrence(con: sqlite3.Connection, keys: set[str]) -> dict[str, dict[str, int]]:
        """For every single-word English gloss in JMdict: how many senses it shares with each of
        ``keys`` (the glosses of the vocabulary)."""
        by_sense: dict[int, list[str]] = {}
        for sid, text, lang in con.execute("SELECT sid, text, lang FROM SenseGloss"):
            if lang not in (None, "eng"):
                continue
            key = _fast_single_gloss(text)
            if key:
                by_sense.setdefault(sid, []).append(key)
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
        return cooc

    # --- query time -----------------------------------------------------------------------------

    def _e2k(self, word: str) -> str:
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
            for d in set(_deletions(key)):
                near.update(self._kana_del.get(d, ()))
                if d in self._kana:
                    near.add(d)
            for k in near:
                if k != key and len(k) >= 4 and _edit_distance_le1(k, key):
                    for term in self._kana[k]:
                        out.setdefault(term, W_E2K_NEAR)
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
            put(tok, W_SUDACHI_KANA if _KATAKANA.match(tok) else W_LITERAL)

        text = unicodedata.normalize("NFKC", question)
        raw_words = _WORD.findall(text.lower())
        n = len(raw_words)
        # Capitalised inside a sentence: probably a name, worth transliterating even if the
        # dictionary also knows it as a word (Oracle, Apple).
        capitalised = {w.lower() for w in _CAPITALISED.findall(text)}

        # 2. Glued names: "soft bank" -> softbank.
        for a, b in zip(raw_words, raw_words[1:]):
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
                if _KATAKANA.match(term):
                    kana.append((term, w))
            if self.use_e2k and word.isalpha() and len(word) >= 3 and (
                    not found or word in vocab or word in capitalised):
                rendered = self._e2k(word)
                kana.append((rendered, W_E2K_EXACT))
                for term, w in self.katakana_matches(rendered).items():
                    put(term, w)

        # 5. Katakana compounds across two words: "data centers" -> データ + センター.
        for i in range(n - 1):
            for k1, w1 in kana_per_word[i][:6]:
                for k2, w2 in kana_per_word[i + 1][:6]:
                    put(k1 + k2, min(w1, w2))
        return result


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
