"""The lexical side of retrieval: a Japanese tokeniser for BM25 (the scorer is ``bm25.py``).

Tokens are Sudachi *normalised* forms, so spelling variants meet (サーバー/サーバ, ＡＩ/AI,
引越し/引っ越し); function words are dropped by part of speech rather than by a list of content
words, so the filter carries over to any corpus. Latin-script runs and numbers are handled by hand
because Sudachi splits them in ways a searcher would not expect ("H800" -> "H" + "800") and
normalises some English words to katakana ("Open" -> "オープン").
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Literal

from sudachipy import Dictionary, Morpheme, MorphemeList, SplitMode, Tokenizer

SplitChoice = Literal["A", "C", "AC"]

#: English function words. A general list (no corpus terms): Latin text inside Japanese articles
#: and English questions would otherwise fill the index and queries with "the", "did", "how".
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each either else ever every few for from further get gets
    got had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
    him himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its itself
    just let let's like may me might more most much must mustn't my myself neither no nor not now
    of off on once only or other ought our ours ourselves out over own per quite rather really
    same shall shan't she she'd she'll she's should shouldn't so some such than that that's the
    their theirs them themselves then there there's these they they'd they'll they're they've
    this those though through thus to too under until up upon us very via was wasn't we we'd
    we'll we're we've were weren't what what's whatever when when's whenever where where's which
    while who who's whom whose why why's will with within without won't would wouldn't yet you
    you'd you'll you're you've your yours yourself yourselves
    actually anyway basically etc kind lot lots maybe okay ok please say said says sort stuff
    go goes going gone went getting
    tell thing things thanks way ways yes yeah
    """.split()
)

# Parts of speech (UniDic level 0) that never carry a topic: particles, auxiliaries, symbols,
# conjunctions, interjections, demonstrative adnominals (この/その), pronouns (私/それ/何),
# prefixes (約/第) and adverbs (とても/なぜ/もう) — question words are all in here too.
_DROP_POS0 = frozenset(
    {"助詞", "助動詞", "補助記号", "記号", "空白", "接続詞", "感動詞", "連体詞", "代名詞", "接頭辞",
     "副詞"}
)

_CAT_DROP = 0
_CAT_CONTENT = 1
_CAT_NUMBER = 2
_CAT_SUFFIX = 3  # dropped on its own, but a counter suffix (日, 人) still joins a number
_CAT_LIGHT = 4  # adverbial nouns (ため/とき/いくら): dropped when written in hiragana

_ASCII_WORD = re.compile(r"[0-9A-Za-z]")
_RUN_CHARS = re.compile(r"^[0-9A-Za-z\-_./+&',]+$")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LATIN_TERM = re.compile(r"[a-z0-9]+(?:[-_./+&'][a-z0-9]+)*")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_CONNECTORS = re.compile(r"[-_./+&']")
_LETTER_DIGIT = re.compile(r"[a-z]+|[0-9]+")
_HIRAGANA = re.compile(r"^[\u3041-\u309f]+$")
_KATAKANA = re.compile(r"^[\u30a0-\u30ff]+$")
#: A 数詞 must hold a digit or a kanji numeral to be a number: UniDic files 何/幾 as 数詞 too.
_NUMERAL = re.compile(r"[0-9〇一二三四五六七八九十百千万億兆京]")
_SENTENCE_END = re.compile(r"[。．.!?！？\n]")

#: Sudachi refuses inputs above ~49 kB of UTF-8; Japanese is 3 bytes a character.
_MAX_PIECE = 8000


def _pieces(text: str) -> Iterable[str]:
    """Cut long text at line or sentence ends into pieces Sudachi accepts."""
    start, n = 0, len(text)
    while n - start > _MAX_PIECE:
        window = text[start : start + _MAX_PIECE]
        cut = max(window.rfind("\n"), max((m.end() for m in _SENTENCE_END.finditer(window)),
                                          default=-1) - 1)
        end = start + cut + 1 if cut > _MAX_PIECE // 4 else start + _MAX_PIECE
        yield text[start:end]
        start = end
    if start < n:
        yield text[start:]


class JapaneseTokenizer:
    """Sudachi tokens in normalised form, without function words; Latin and numbers kept whole.

    ``split``: "C" (long units, 投資額), "A" (short units, 投資 + 額) or "AC" (C units plus the A
    parts of compound content words, so 投資 also finds 投資額). "AC" is the default: on the dev
    questions A, C and AC ranked within noise of each other for Japanese questions (MRR .46/.46/
    .46) while C lost on English ones through the bridge (.86/.80/.85), and only AC keeps both the
    compounds JMdict glosses (発電所 "power plant") and their parts; it costs ~15% speed
    (~410k vs ~490k chars/s). The middle (B) units of a compound come too, once each: A alone splits
    従業員数 into 従業 + 員 + 数, so "employees" (従業員) never met "従業員数は200人"; with them the
    figures on the three question sets are unchanged or better (JSQuAD CV hit@3 .900 -> .905).
    Thread-safe: each thread gets its own Sudachi tokenizer over one shared, read-only dictionary.
    """

    def __init__(self, split: SplitChoice = "AC") -> None:
        if split not in ("A", "C", "AC"):
            raise ValueError(f"split must be 'A', 'C' or 'AC', not {split!r}")
        self.split = split
        self._dictionary = Dictionary(dict="core")
        self._mode = SplitMode.A if split == "A" else SplitMode.C
        self._local = threading.local()
        # POS ids are shared by every tokenizer of one dictionary; the cache turns the per-morpheme
        # POS test into a dict lookup. Races only ever write the same value.
        self._pos_cache: dict[int, tuple[int, bool]] = {}

    # --- Sudachi plumbing ----------------------------------------------------------------------

    def _tokenizer(self) -> Tokenizer:
        tok: Tokenizer | None = getattr(self._local, "tok", None)
        if tok is None:
            make = getattr(self._dictionary, "tokenizer", None) or self._dictionary.create
            tok = make(mode=self._mode)
            self._local.tok = tok
        return tok

    def _category(self, m: Morpheme) -> tuple[int, bool]:
        """(category, is_counter) for a morpheme's part of speech."""
        pid = m.part_of_speech_id()
        cached = self._pos_cache.get(pid)
        if cached is not None:
            return cached
        pos = m.part_of_speech()
        p0, p1, p2 = pos[0], pos[1], pos[2]
        counter = p2 in ("助数詞可能", "助数詞")
        if p1 == "数詞":
            cat = _CAT_NUMBER
        elif p0 in _DROP_POS0:
            cat = _CAT_DROP
        elif p0 == "接尾辞":
            cat = _CAT_SUFFIX
        elif p1 in ("非自立可能", "助動詞語幹"):
            # する/ある/いる/なる, ない/よい, よう/そう: grammar, not topic.
            cat = _CAT_DROP
        elif p2 == "副詞可能":
            cat = _CAT_LIGHT
        else:
            cat = _CAT_CONTENT
        self._pos_cache[pid] = (cat, counter)
        return cat, counter

    # --- public API -----------------------------------------------------------------------------

    def tokens(self, text: str) -> list[str]:
        """Search tokens of ``text`` (the same function serves documents and queries)."""
        if not text:
            return []
        # NFKC first so full-width Latin/digits (ＡＩ, １００) take the ASCII path below.
        text = unicodedata.normalize("NFKC", text)
        out: list[str] = []
        tok = self._tokenizer()
        for piece in _pieces(text):
            self._emit(piece, tok.tokenize(piece), out)
        return out

    def __call__(self, text: str) -> list[str]:
        return self.tokens(text)

    def morphemes(self, text: str) -> MorphemeList:
        """Sudachi's analysis of ``text`` as it is (no normalisation, no filtering), for callers
        that need parts of speech; same thread-local tokenizer as ``tokens``."""
        return self._tokenizer().tokenize(text)

    # --- token emission -------------------------------------------------------------------------

    def _emit(self, piece: str, ms: MorphemeList, out: list[str]) -> None:
        n = len(ms)
        i = 0
        prev_word: tuple[str, int, bool] | None = None  # (lower word, end offset, capitalised)
        while i < n:
            m = ms[i]
            surface = m.surface()
            if _ASCII_WORD.search(surface) and _RUN_CHARS.match(surface):
                # A run of contiguous ASCII morphemes is one term to a reader (GPT-4o, H800, r-1).
                j, end = i + 1, m.end()
                while j < n:
                    nxt = ms[j]
                    if nxt.begin() != end or not _RUN_CHARS.match(nxt.surface()):
                        break
                    end = nxt.end()
                    j += 1
                run = piece[m.begin() : end]
                kana = m.normalized_form() if j == i + 1 else ""
                last_num = self._emit_run(run, kana, out)
                # "Open AI" / "Soft Bank": two capitalised words side by side are often one name
                # spelt elsewhere without the space; also index the joined form.
                word = run.strip("-_./+&',")
                cap = bool(word) and word[0].isupper() and word.isalpha() \
                    and word.lower() not in ENGLISH_STOPWORDS
                if prev_word is not None and cap and prev_word[2] and \
                        m.begin() == prev_word[1] + 1 and piece[prev_word[1]] == " ":
                    out.append(prev_word[0] + word.lower())
                prev_word = (word.lower(), end, cap) if cap else None
                if last_num is not None and j < n:
                    self._emit_counter(last_num, ms[j], end, out)
                i = j
                continue
            if not surface.isspace():
                prev_word = None
            cat, _ = self._category(m)
            if cat == _CAT_NUMBER and _NUMERAL.search(surface):
                num = _DIGIT_COMMA.sub("", surface)
                norm = m.normalized_form()
                out.append(norm)
                if num != norm:
                    out.append(num)  # 1000億 next to its value 100000000000
                if i + 1 < n:
                    self._emit_counter(num, ms[i + 1], m.end(), out)
            elif cat == _CAT_CONTENT or cat == _CAT_LIGHT:
                if _HIRAGANA.match(surface) and (len(surface) <= 2 or cat == _CAT_LIGHT):
                    # こと/もの/ため/いくら: light nouns that UniDic files as ordinary nouns.
                    pass
                else:
                    out.append(m.normalized_form().lower())
                    if self.split == "AC":
                        self._emit_a_parts(m, out)
            i += 1

    def _emit_a_parts(self, m: Morpheme, out: list[str]) -> None:
        parts = m.split(SplitMode.A)
        if len(parts) < 2:
            return
        seen = {m.normalized_form().lower()}  # the whole compound is already out
        for p in [*m.split(SplitMode.B), *parts]:
            cat, _ = self._category(p)
            s = p.surface()
            if cat in (_CAT_CONTENT, _CAT_LIGHT) and len(s) > 1 and not _HIRAGANA.match(s):
                form = p.normalized_form().lower()
                if form not in seen:
                    seen.add(form)
                    out.append(form)

    def _emit_counter(self, num: str, nxt: Morpheme, num_end: int, out: list[str]) -> None:
        """'4.5' + '%' -> '4.5%', '1000億' + 'ドル' -> '1000億ドル', '2023' + '年' -> '2023年'."""
        if nxt.begin() != num_end:
            return
        s = nxt.surface()
        if s == "%" or self._category(nxt)[1]:
            out.append(num + s.lower())

    def _emit_run(self, run: str, kana: str, out: list[str]) -> str | None:
        """Emit tokens for one ASCII run; return its trailing number, if it ends in one."""
        low = _DIGIT_COMMA.sub("", run.lower())
        last_num: str | None = None
        for mt in _LATIN_TERM.finditer(low):
            term = mt.group()
            last_num = None
            if term in ENGLISH_STOPWORDS:
                continue  # it's, don't
            if term.endswith("'s"):
                term = term[:-2]  # possessive: market's -> market
                if not term or term in ENGLISH_STOPWORDS:
                    continue
            if _NUMBER.match(term):
                out.append(term)
                last_num = term
                continue
            parts = [p for p in _CONNECTORS.split(term) if p]
            if len(parts) > 1:
                out.append(term)  # gpt-4o
                out.append("".join(parts))  # r-1 meets r1
            for p in parts:
                if p in ENGLISH_STOPWORDS:
                    continue
                if len(parts) > 1 and (len(p) >= 2 or p.isdigit()):
                    out.append(p)  # gpt, 4o
                pieces = _LETTER_DIGIT.findall(p)
                if len(pieces) > 1:
                    # h800 -> 800, 100billion -> 100 + billion: the pieces a query may use alone.
                    for q in pieces:
                        if q.isdigit() or len(q) >= 3:
                            out.append(q)
            if len(parts) == 1 and term not in ENGLISH_STOPWORDS and (len(term) >= 2
                                                                      or term.isdigit()):
                out.append(term)
            if parts and parts[-1].isdigit():
                last_num = term
        if kana and _KATAKANA.match(kana) and low.strip("-_./+&',") not in ENGLISH_STOPWORDS:
            # Sudachi knows katakana spellings of many names and loanwords (Nokia -> ノキア);
            # indexing both lets one script find the other.
            out.append(kana)
        return last_num
