"""Input that asks nothing: greetings, thanks, emoji, punctuation, keyboard mash, invisible
characters, and instructions aimed at the bot rather than questions about the articles.

Such input gets no quotes at all: any passage would be a random one, and a confident random quote
is the worst answer kiji can give. The categories are closed (a greeting is a greeting whatever the
corpus), so they are rules, not learned; a bare topic ("NVIDIA", "半導体") is *not* contentless — it
is a search, and the learned answer model decides it like any question.
"""

from __future__ import annotations

import re
import unicodedata

#: Whole-input greetings, thanks and acknowledgements (after case folding, NFKC, and stripping
#: punctuation, symbols and emoji). Politeness endings are stripped first.
_SMALL_TALK = frozenset({
    "hello", "hi", "hey", "heya", "yo", "hiya", "howdy", "sup", "good morning", "good evening",
    "good night", "good afternoon", "thanks", "thank you", "thank you very much", "thanks a lot", "thx",
    "ty", "tysm", "cheers", "ok", "okay", "k", "kk", "cool", "nice", "great", "bye", "goodbye",
    "see you", "test", "testing", "ping", "yes", "no", "lol", "hmm", "hm", "what", "why", "how", "help",
    "こんにちは", "こんにちわ", "こんばんは", "こんばんわ", "おはよう", "おはよー", "やあ", "どうも", "ありがとう",
    "ありがと", "あざす", "サンキュー", "よろしく", "はじめまして", "さようなら", "またね", "おやすみ", "おつかれ",
    "お疲れ様", "おつかれさま", "テスト", "てすと", "はい", "いいえ", "うん", "了解", "りょうかい", "なるほど", "へー",
    "ok です", "ヘルプ", "なに", "なんで",
})
_POLITE_ENDINGS = re.compile(r"(ございました|ございます|です|でした|ます|ました|さん|様|ね|よ|!|！)+$")
_INJECTION = re.compile(
    r"(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules?)|system prompt|"
    r"you are now|jailbreak|developer mode|"
    r"(指示|命令|ルール|設定).{0,10}(無視|忘れ)|システムプロンプト|プロンプトを(表示|出力|教え)",
    re.IGNORECASE)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{5,}")
_LETTERS = re.compile(r"[^\W\d_]+")


def _visible(text: str) -> str:
    """NFKC text without control, format (zero-width) and private-use characters."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")


def _has_letters_or_digits(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _mash(word: str) -> bool:
    w = word.lower()
    if len(w) >= 3 and any(w in row or w[::-1] in row for row in _KEYBOARD_ROWS):
        return True
    return bool(_CONSONANT_RUN.search(w))


def contentless_kind(question: str) -> str | None:
    """Why ``question`` asks nothing (``"empty"``, ``"small_talk"``, ``"keyboard_mash"``,
    ``"instruction"``), or ``None`` for a real question or search."""
    text = _visible(question).strip()
    if not _has_letters_or_digits(text):
        return "empty"  # punctuation, emoji, symbols, invisible characters only
    if _INJECTION.search(text):
        return "instruction"
    words = " ".join(_LETTERS.findall(text.casefold()))
    if _POLITE_ENDINGS.sub("", words).strip() in _SMALL_TALK or words in _SMALL_TALK:
        return "small_talk"
    latin = re.findall(r"[A-Za-z]+", text)
    if latin and text.isascii() and len(latin) <= 4 and all(_mash(w) for w in latin):
        return "keyboard_mash"
    return None
