"""Checks a model's answer against the passages it was given, before anyone sees it.

The answer is split into sentences; citation markers ([1], [1][2], [1, 2], ［１］, 【1】) that follow a
sentence's full stop belong to that sentence. Then, for every sentence:

* every marker names a passage that was given (1..n): else ``citation_out_of_range``;
* text in quotation marks (「」『』“” "") is a verbatim substring of a passage the sentence cites
  (its text or its title): else ``quote_not_verbatim``;
* every figure (``figures``: numbers with units, percentages, amounts, dates; NFKC-normalised),
  inside quotation marks or not, appears in a passage the sentence cites: else ``figure_not_in_passages``. A sentence that cites
  nothing can therefore hold no figure and no quotation;
* a sentence citing nothing is reported in ``unsourced`` (shown, never as sourced).

For the answer as a whole: at least one sentence must cite a passage (``no_citations``), and it must
be in the question's language once quotations and titles are set aside (``wrong_language``). An
answer that cites nothing and says the passages do not answer (the ``NO_ANSWER`` reply, or words to
that effect) is a decline: it can only lower ``answered``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kiji.corpus.sentences import sentence_spans
from kiji.retrieval.answer.figures import figures, strip_invisible, supported
from kiji.retrieval.generation import result as reasons
from kiji.retrieval.generation.prompt import NO_ANSWER, Passage
from kiji.retrieval.models import Language

_MARKER = re.compile(r"[\[【［]\s*(\d+(?:\s*[-–]\s*\d+)?(?:\s*[,、，]\s*\d+(?:\s*[-–]\s*\d+)?)*)\s*[\]】］]")
_LEADING_MARKERS = re.compile(r"(?:\s*[\[【［]\s*\d[\d\s,、，\-–]*[\]】］])+")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_PAIRS = {"「": "」", "『": "』", "“": "”"}
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_LATIN = re.compile(r"[A-Za-z]")
_LETTER = re.compile(r"[A-Za-z\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•・])\s+")
_DECLINE = re.compile(
    r"(\b(passages?|articles?|sources?|context|text)\b[^.]{0,60}\b(do(es)? not|don't|doesn't|never)\b"
    r"[^.]{0,40}\b(answer|say|mention|contain|cover|state|provide|include|address|specify)"
    r"|\bno (information|mention|answer)\b|\b(cannot|can't|unable to) (be )?(answer|determine|find)"
    r"|(記載|記述|情報|言及|答え|回答|説明)(が|は|も)?(見つかりません|見当たりません|ありません|ない|"
    r"されていません|含まれていません)|答えられません|分かりません|わかりません|判断できません)",
    re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    #: Passages the sentence cites (valid numbers only), in order of first mention.
    cited: tuple[int, ...]


@dataclass(slots=True)
class Verification:
    text: str
    sentences: list[Sentence] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: The model said the passages do not answer the question.
    declined: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def cited(self) -> list[int]:
        seen: dict[int, None] = {}
        for s in self.sentences:
            seen.update(dict.fromkeys(s.cited))
        return list(seen)

    @property
    def unsourced(self) -> list[str]:
        return [s.text for s in self.sentences if not s.cited]


def clean(text: str) -> str:
    """The answer without a reasoning model's <think>…</think> block and without invisible format
    characters (bidi overrides draw digits reversed: they are never shown), trimmed."""
    return strip_invisible(_THINK.sub("", text)).strip()


def markers(text: str) -> list[int]:
    """Passage numbers cited in ``text``, in order, ranges expanded ([1-3] → 1, 2, 3)."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for part in re.split(r"\s*[,、，]\s*", m.group(1)):
            bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part)]  # int() reads ０-９ too
            lo, hi = bounds[0], bounds[-1]
            out += list(range(lo, hi + 1)) if 0 <= hi - lo < 50 else [lo, hi]
    return out


def quoted(text: str) -> list[tuple[int, int]]:
    """Spans of the text inside 「」『』“” and "" (inner pairs too); unbalanced marks are ignored."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    ascii_open: int | None = None
    for i, ch in enumerate(text):
        if ch in _PAIRS:
            stack.append((_PAIRS[ch], i + 1))
        elif stack and ch == stack[-1][0]:
            spans.append((stack.pop()[1], i))
        elif ch == '"':
            if ascii_open is None:
                ascii_open = i + 1
            else:
                spans.append((ascii_open, i))
                ascii_open = None
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    keep, pos = [], 0
    for s, e in sorted(spans):
        if s >= pos:
            keep.append(text[pos:s])
            pos = e
    keep.append(text[pos:])
    return " ".join(keep)


def split_sentences(text: str) -> list[str]:
    """Sentences of the answer, each with the citation markers written after its full stop."""
    spans: list[list[int]] = []
    for s, e in sentence_spans(text):
        lead = _LEADING_MARKERS.match(text, s, e)
        if lead and spans:
            spans[-1][1] = lead.end()  # "…した。[1]" / "… fell. [1]": the markers close the sentence
            s = lead.end()
            while s < e and text[s].isspace():
                s += 1
        if s < e:
            spans.append([s, e])
    return [text[s:e] for s, e in spans]


def answer_language(text: str) -> Language:
    """Japanese when hiragana (its grammar) is there in earnest: at least one kana per ten Latin
    letters, so a Japanese answer full of names (DeepSeek, NVIDIA) stays Japanese and an English one
    with a stray Japanese word stays English."""
    hiragana = len(_HIRAGANA.findall(text))
    return "ja" if hiragana and hiragana * 10 >= len(_LATIN.findall(text)) else "en"


def is_decline(text: str) -> bool:
    return NO_ANSWER in text or bool(_DECLINE.search(text))


def verify(answer: str, passages: Sequence[Passage], language: Language) -> Verification:
    text = clean(answer)
    check = Verification(text=text)
    if not text:
        check.failures.append(Failure(reasons.EMPTY, "the model returned no text"))
        return check
    given = {p.n: p for p in passages}
    if not markers(text) and is_decline(text):
        check.declined = True
        return check
    spoken: list[str] = []  # the answer's own words: no quotations, titles or markers
    for raw in split_sentences(text):
        numbers = markers(raw)
        for n in dict.fromkeys(numbers):
            if n not in given:
                check.failures.append(Failure(reasons.CITATION_OUT_OF_RANGE,
                                              f"[{n}] cites a passage that was not given (1-{len(given)})"))
        cited = tuple(dict.fromkeys(n for n in numbers if n in given))
        check.sentences.append(Sentence(raw, cited))
        sources = [given[n] for n in cited]
        where = ("passage " + ", ".join(f"[{n}]" for n in cited) if cited
                 else "a cited passage (the sentence cites none)")
        body = _MARKER.sub(" ", raw)
        spans = quoted(body)
        for s, e in spans:
            inner = body[s:e].strip()
            if not any(inner in p.text or inner in p.title for p in sources):
                check.failures.append(Failure(reasons.QUOTE_NOT_VERBATIM,
                                              f"「{inner[:80]}」 is not in {where}"))
        pool = [f for p in sources for f in figures(p.text) + figures(p.title)]
        # Figures inside quotation marks too: “1000” is a verbatim substring of 1000万ドル, and still
        # not a figure the passage states.
        for fig in figures(_LIST_MARK.sub("", body)):
            if not supported(fig, pool):
                check.failures.append(Failure(reasons.FIGURE_NOT_IN_PASSAGES,
                                              f"{fig.text} is not in {where}"))
        spoken.append(_without(body, spans))
    if not check.cited:
        check.failures.append(Failure(reasons.NO_CITATIONS, "no sentence cites a given passage"))
    words = " ".join(spoken)
    for p in passages:
        words = words.replace(p.title, " ")
    # An answer that is all quotation has no words of its own to judge.
    if _LETTER.search(words) and (found := answer_language(words)) != language:
        check.failures.append(Failure(reasons.WRONG_LANGUAGE,
                                      f"the answer is in {found}, the question in {language}"))
    return check
