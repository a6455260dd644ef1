"""What kind of answer a question asks for, and which kinds a sentence holds.

A question that asks *when* is answered by a sentence with a date, *who* by one naming a person,
*where* by one naming a place, *how many* by one with a figure. A passage about the right topic that
holds no answer of the asked kind is the typical loosely related quote, so both the ranker and the
answer/decline model read these matches. The patterns are about the language, not any corpus.
"""

from __future__ import annotations

import re

_ASKS = {
    "number": re.compile(
        r"(いくら|いくつ|何[%％人台倍兆億万個回ドル円割位点歳]|何パーセント|どれ(くらい|ぐらい|だけ)|"
        r"\bhow (much|many|long|far|big|old|large|tall)\b|\bwhat (percentage|share|amount|number)\b)",
        re.IGNORECASE),
    "date": re.compile(
        r"(いつ|何年|何月|何日|何世紀|何時代|\bwhen\b|\bwhat (year|date|day|month|century|decade)\b|"
        r"\bsince when\b|\bwhich year\b)", re.IGNORECASE),
    "person": re.compile(r"(誰|だれ|何者|どなた|\bwho(m|se)?\b)", re.IGNORECASE),
    "place": re.compile(r"(どこ|何処|どの(国|都市|町|地域|場所)|\bwhere\b|\bwhich (country|city|state|region)\b)",
                        re.IGNORECASE),
}

_HOLDS = {
    "number": re.compile(r"[0-9０-９]|[一二三四五六七八九十百千万億兆]+[人台倍個回円年%％]|\b(one|two|three|four|five|"
                         r"six|seven|eight|nine|ten|hundred|thousand|million|billion)\b", re.IGNORECASE),
    "date": re.compile(
        r"([0-9０-９]{1,4}\s*(年|月|日|世紀|年代)|[一二三四五六七八九十]+(世紀|月)|"
        r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b(January|February|March|April|May|June|July|August|September|"
        r"October|November|December)\b|\b[0-9]{1,2}(st|nd|rd|th) century\b|(明治|大正|昭和|平成|令和|江戸|室町|鎌倉))"),
    "person": re.compile(
        r"([\u30a0-\u30ff]{2,}・[\u30a0-\u30ff]{2,}|[\u4e00-\u9fff]{2,4}(氏|さん|教授|社長|会長|監督|選手|博士)|"
        r"\b(Mr|Mrs|Ms|Dr|Sir|King|Queen|President|Professor)\.?\s+[A-Z]|"
        r"\b[A-Z][a-z]+\s+(?:[A-Z]\.\s+)?[A-Z][a-z]+\b|\b(he|she|his|her)\b|(彼|彼女))"),
    "place": re.compile(
        r"([\u4e00-\u9fff]{1,6}(県|市|区|町|村|国|州|都|府|島|川|山|湖|駅)|"
        r"\b(in|at|from|near|to)\s+(the\s+)?[A-Z][a-z]+|\b(city|country|state|province|region|island|river)\b)"),
}


def asked_types(question: str) -> frozenset[str]:
    return frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(question))


def held_types(text: str) -> frozenset[str]:
    return frozenset(kind for kind, pattern in _HOLDS.items() if pattern.search(text))
