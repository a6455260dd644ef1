"""English words as dictionary keys: a small lemmatiser (fell → fall, plants → plant) and the
cleaning that turns a JMdict gloss ("to fall (e.g. prices)") into a key ("fall")."""

from __future__ import annotations

import re

from kiji.retrieval.lexical.weights import W_DERIVED, W_INFLECTED

_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_GLOSS_DROP = re.compile(r"[^a-z0-9'\- ]+")
_LEADING = ("to ", "a ", "an ", "the ")

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

_DERIVATIONS = ("cy", "ment", "ion", "ation", "ure", "ness", "ity", "al")


def singular(word: str) -> str:
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


def clean_gloss(gloss: str) -> tuple[str, bool]:
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


def fast_single_gloss(gloss: str) -> str:
    """The key of a one-word gloss, or "" (cheap path for scanning all of JMdict)."""
    g = gloss.lower()
    if g.startswith("to "):
        g = g[3:]
    if _SIMPLE_WORD.match(g):
        return g
    if "(" in g or "[" in g:
        key, _ = clean_gloss(g)
        return key if key and " " not in key else ""
    return ""
