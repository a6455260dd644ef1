"""Specific terms of a question that the articles never mention.

A question about something the articles do not cover usually names it: a product (o3-mini), a
place (箱根), an organisation (US Navy), a technical term written in katakana (トークン). If such
a term appears nowhere in the corpus, in any script, the nearest passage is only loosely related,
however close it looks to the embedding model. Common words are not checked: a question may say
技術者 where the article says エンジニア, and that is a paraphrase, not a gap.

Scripts are bridged both ways before a term counts as missing: a Latin name may appear in katakana
(Nokia → ノキア, through e2k) and a katakana name may appear in Latin letters (アンソロピック →
Anthropic, through e2k renderings of the corpus's Latin words).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from kiji.retrieval.lexical.bridge import EnglishBridge
from kiji.retrieval.lexical.kana import edit_distance_le1, kana_key
from kiji.retrieval.lexical.tokenizer import ENGLISH_STOPWORDS, JapaneseTokenizer

_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")
#: A katakana word long enough to be a name or a loanword rather than a fragment.
KATAKANA_TERM = re.compile(r"^[\u30a0-\u30ff]{3,}$")
_SENTENCE_START = re.compile(r"(^|[.!?。！？]\s*)$")


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


class CoverageChecker:
    """Built per index version from the lexical vocabulary; the katakana → Latin map is built on
    first need (it renders each Latin vocabulary word with e2k, ~2 ms a word)."""

    def __init__(self, vocabulary: set[str], tokenizer: JapaneseTokenizer,
                 bridge_factory: Callable[[], EnglishBridge]) -> None:
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        self._bridge_factory = bridge_factory
        self._latin_kana: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _reverse(self) -> dict[str, str]:
        with self._lock:
            if self._latin_kana is None:
                bridge = self._bridge_factory()
                latin = [t for t in self.vocabulary if t.isascii() and t.isalpha() and len(t) >= 3]
                self._latin_kana = {kana_key(bridge.to_katakana(t)): t for t in latin}
            return self._latin_kana

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
        if term.kind == "katakana":
            return self.latin_for(term.surface) is not None
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
        if not low.isalpha():
            return False  # a code like o3-mini or R2 is either in the text as written or absent
        bridge = self._bridge_factory()
        # Written in katakana (Nokia → ノキア) or translated (China → 中国) in the articles.
        return bool(bridge.katakana_matches(bridge.to_katakana(low))) or bool(bridge.expand(word))

    def latin_for(self, katakana: str) -> str | None:
        """The corpus's Latin word whose katakana rendering is (nearly) ``katakana``."""
        key = kana_key(katakana)
        reverse = self._reverse()
        if key in reverse:
            return reverse[key]
        if len(key) < 4:
            return None
        for k, word in reverse.items():
            if abs(len(k) - len(key)) <= 1 and edit_distance_le1(key, k):
                return word
        return None

    def missing(self, question: str) -> list[str]:
        """Specific terms of ``question`` found nowhere in the corpus."""
        return [t.surface for t in self.specific_terms(question) if not self._covered(t)]
