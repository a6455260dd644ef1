"""Specific terms of a question that the articles never mention.

A question about something the articles do not cover usually names it: a product (o3-mini), a
place (箱根), an organisation (US Navy), a technical term written in katakana (トークン). If such
a term appears nowhere in the corpus, in any script, the nearest passage is only loosely related,
however close it looks to the embedding model. Common words are not checked: a question may say
技術者 where the article says エンジニア, and that is a paraphrase, not a gap.

Scripts are bridged both ways before a term counts as missing: a Latin name may appear in katakana
(Nokia → ノキア, through e2k; Gary → ゲーリー, by sound: ``names.py``) and a katakana name may appear
in Latin letters (アンソロピック → Anthropic, through e2k renderings of the corpus's Latin words, or
by sound: サティア・ナデラ → nadella) or in another katakana spelling (ヘミングウェイ/ヘミングウエー).
A missing term is evidence for the answer model, not a veto.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from kiji.retrieval.lexical.bridge import EnglishBridge
from kiji.retrieval.lexical.kana import KATAKANA_WORD
from kiji.retrieval.lexical.names import (
    PhoneticIndex,
    accent_folded,
    english_keys,
    katakana_terms,
    name_parts,
)
from kiji.retrieval.lexical.phonetic import english_key, katakana_key
from kiji.retrieval.lexical.rendered import RenderedLatin
from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS, JapaneseTokenizer

_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")
#: A katakana word long enough to be a name or a loanword rather than a fragment.
KATAKANA_TERM = re.compile(r"^[\u30a0-\u30ff]{3,}$")
_SENTENCE_START = re.compile(r"(^|[.!?。！？]\s*)$")
#: Largest phonetic distance between two katakana spellings of one word (a glide or an added u).
KATAKANA_VARIANT = 0.2
_KATAKANA_RUN = re.compile(r"[\u30a1-\u30fa\u30fc]+(?:・[\u30a1-\u30fa\u30fc]+)*")


@dataclass(frozen=True, slots=True)
class SpecificTerm:
    surface: str
    kind: str  # "latin" | "proper_noun" | "katakana"


def _latin_terms(text: str) -> list[SpecificTerm]:
    """Latin words that look like names or codes; adjacent capitalised words form one name
    ("Gary Marcus"), since a corpus may spell only one part recognisably (マーカス)."""
    out: list[SpecificTerm] = []
    prev_end = -2
    for m in _LATIN.finditer(text):
        word = re.sub(r"['’]s$", "", m.group())  # China's -> China
        low = word.lower()
        if low in ENGLISH_STOPWORDS or len(word) < 2:
            prev_end = -2
            continue
        has_digit = any(c.isdigit() for c in word)
        acronym = word.isupper() and len(word) >= 2
        mixed = any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)
        capitalised = word[0].isupper() and not _SENTENCE_START.search(text[: m.start()])
        if has_digit or acronym or mixed or capitalised:
            if out and prev_end == m.start() - 1 and text[prev_end] == " " and word[0].isupper():
                out[-1] = SpecificTerm(f"{out[-1].surface} {word}", "latin")
            else:
                out.append(SpecificTerm(word, "latin"))
            prev_end = m.end()
        else:
            prev_end = -2
    return out


@dataclass(frozen=True, slots=True)
class _Sounds:
    """The vocabulary by sound: Latin words by their spelling's key, katakana terms (and the
    words of katakana names) by their romaji key; Latin words with diacritics by plain spelling."""

    latin: PhoneticIndex
    kana: PhoneticIndex
    plain: dict[str, str]


class CoverageChecker:
    """Built per index version from the lexical vocabulary. What katakana terms need is built on
    first need: the phonetic indexes of the Latin and katakana vocabulary (~10 µs a word), and
    the Latin words by spelling skeleton, for e2k renderings of the few a katakana word may
    spell when sound alone finds nothing (``rendered.py``)."""

    def __init__(self, vocabulary: set[str], tokenizer: JapaneseTokenizer,
                 bridge_factory: Callable[[], EnglishBridge],
                 english_for: Callable[[str], dict[str, float]] | None = None) -> None:
        """``english_for``: the corpus's English words for a Japanese term, where it has English
        text (``japanese_bridge``): a term it translates (イギリス → britain) is there."""
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        self._bridge_factory = bridge_factory
        self._english_for = english_for
        self._rendered: RenderedLatin | None = None
        self._sounds: _Sounds | None = None
        self._lock = threading.Lock()

    def _phonetic(self) -> _Sounds:
        with self._lock:
            if self._sounds is None:
                vocab = self.vocabulary
                self._sounds = _Sounds(
                    latin=PhoneticIndex(
                        (t for t in vocab if t.isascii() and t.isalpha() and len(t) >= 3),
                        english_key),
                    kana=PhoneticIndex(katakana_terms(vocab, self.tokenizer), katakana_key,
                                       name_parts),
                    plain=accent_folded(vocab))
            return self._sounds

    def _reverse(self) -> RenderedLatin:
        with self._lock:
            if self._rendered is None:
                bridge = self._bridge_factory()
                self._rendered = RenderedLatin(
                    (t for t in self.vocabulary if t.isascii() and t.isalpha() and len(t) >= 3),
                    bridge.to_katakana)
            return self._rendered

    def specific_terms(self, question: str) -> list[SpecificTerm]:
        text = unicodedata.normalize("NFKC", question)
        terms = _latin_terms(text)
        for m in self.tokenizer.morphemes(text):
            surface = m.surface()
            if not surface.strip() or surface.isascii():
                continue
            pos = m.part_of_speech()
            if pos[1] == "固有名詞":
                terms.append(SpecificTerm(surface, "proper_noun"))
            elif pos[0] == "名詞" and KATAKANA_TERM.match(surface):
                terms.append(SpecificTerm(surface, "katakana"))
        return terms

    def _covered(self, term: SpecificTerm) -> bool:
        vocab = self.vocabulary
        forms = set(self.tokenizer.tokens(term.surface))
        if term.kind == "latin":
            return any(self._latin_word_covered(w, forms) for w in term.surface.split(" "))
        if forms and forms <= vocab or term.surface in vocab:
            return True
        if self._english_for is not None and self._english_for(term.surface):
            return True
        if KATAKANA_TERM.match(term.surface) or KATAKANA_WORD.match(term.surface):
            # A katakana name (proper noun or not) may be written in Latin letters or spelt
            # another way in the articles.
            return bool(self.katakana_variants(term.surface)) or self.latin_for(term.surface) is not None
        return False

    def _latin_word_covered(self, word: str, forms: set[str]) -> bool:
        vocab = self.vocabulary
        low = word.lower()
        parts = [p for p in re.split(r"[-.]", low) if p]
        if low in vocab or low.replace("-", "") in vocab or (" " not in word and forms and forms <= vocab):
            return True
        if len(parts) > 1 and all(p in vocab for p in parts):
            return True
        if low.endswith("s") and low[:-1] in vocab:
            return True
        if low in self._phonetic().plain and len(low) >= 3:
            return True  # Herve for the text's Hervé
        if not low.isalpha():
            return False  # a code like o3-mini or R2 is either in the text as written or absent
        bridge = self._bridge_factory()
        # Written in katakana (Nokia → ノキア, through e2k; Databricks → データ + ブリックス where
        # the tokenizer split it, through the bridge) or translated (China → 中国) in the
        # articles; or a katakana word sounds like it (Gary → ゲーリー). The word is a name here
        # (capitalised, an acronym...), so sound counts even for a word a dictionary knows.
        rendered = bridge.to_katakana(low)
        if bridge.katakana_matches(rendered) or bridge.expand(word):
            return True
        return bool(self._phonetic().kana.match(english_keys(low, rendered)))

    def katakana_variants(self, katakana: str) -> list[str]:
        """Katakana vocabulary terms that sound like ``katakana``, spelt differently
        (ヘミングウェイ → ヘミングウエー, ウィーワーク → ウィワーク); not the term itself. Two
        katakana spellings of one word differ far less than an English spelling and its katakana:
        a glide, an added u/o, long marks (already folded), never a vowel (リオ is not レオ)."""
        return [t for m in self._phonetic().kana.match([katakana_key(katakana)]) for t in m.terms
                if t != katakana and m.cost <= KATAKANA_VARIANT]

    def latin_for(self, katakana: str) -> str | None:
        """The corpus's Latin word that ``katakana`` spells: by sound (サティア → satya), else the
        word whose e2k rendering is (nearly) ``katakana``."""
        by_sound = self._phonetic().latin.match([katakana_key(katakana)])
        if by_sound:
            return by_sound[0].terms[0]
        return self._reverse().word_for(katakana)

    def missing(self, question: str, specific: list[SpecificTerm] | None = None) -> list[str]:
        """Specific terms of ``question`` found nowhere in the corpus (``specific``: its
        ``specific_terms`` when the caller has them)."""
        runs: list[str] | None = None
        out = []
        for term in self.specific_terms(question) if specific is None else specific:
            if self._covered(term):
                continue
            if KATAKANA_WORD.match(term.surface):
                if runs is None:
                    runs = _KATAKANA_RUN.findall(unicodedata.normalize("NFKC", question))
                if any(self._run_covered(run, term.surface) for run in runs):
                    continue
            out.append(term.surface)
        return out

    def _run_covered(self, run: str, part: str) -> bool:
        """Whether ``part`` is covered as a piece of the katakana ``run`` it came from: a name
        of several words (サティア・ナデラ) is there when one of its words is, as for Latin names;
        a word the tokenizer split (データ + ブリックス) when the whole is."""
        if run == part or part not in run:
            return False
        if "・" in run:
            return any(self._covered(SpecificTerm(w, "katakana"))
                       for w in run.split("・") if w and w != part and len(w) >= 2)
        return self._covered(SpecificTerm(run, "katakana"))
