"""Highlights and glosses put on the quotes of one answer (``highlights.py``, ``glosses.py``)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from kiji.retrieval.answer.figures import figures
from kiji.retrieval.answer.glosses import Glossary
from kiji.retrieval.answer.highlights import MIN_TERM_WEIGHT, highlight_spans, matched_terms, strong_terms
from kiji.retrieval.language import detect_language
from kiji.retrieval.models import Language, Quote
from kiji.retrieval.search.candidates import LexicalSide


class ReadingAids:
    """One per engine (index version): the glossary reads JMdict lazily, on the first quote in the
    other language, so a deployment whose readers share the articles' language never pays it."""

    def __init__(self, lexical: LexicalSide | None) -> None:
        self.lexical = lexical
        self._glossary: Glossary | None = None
        self._lock = threading.Lock()

    @property
    def glossary(self) -> Glossary | None:
        if self.lexical is None:
            return None
        with self._lock:
            if self._glossary is None:
                lexical = self.lexical
                self._glossary = Glossary(lexical.tokenizer, latin_for=lexical.coverage.latin_for,
                                          japanese_for=self._japanese_for, rarity=lexical.idf)
            return self._glossary

    def _japanese_for(self, word: str) -> str | None:
        """The corpus's Japanese term the English bridge translates ``word`` to, the surest one."""
        if self.lexical is None:
            return None
        expanded = self.lexical.bridge.expand(word)
        best = sorted(((w, t) for t, w in expanded.items() if not t.isascii() and w >= MIN_TERM_WEIGHT),
                      key=lambda wt: (-wt[0], len(wt[1]), wt[1]))
        return best[0][1] if best else None

    def annotate(self, quotes: list[Quote], *, question: str, language: Language,
                 weights: Mapping[str, float], every_figure: bool) -> list[Quote]:
        """``quotes`` with their ``highlights`` and, for those not in ``language``, ``glosses``."""
        if not quotes:
            return quotes
        terms = strong_terms(dict(weights))
        asked = figures(question)
        out = []
        for quote in quotes:
            text_language = detect_language(quote.text, language)
            # In a quote in the other language the figures are what a reader can read at once:
            # every one is marked (on the dev set's English questions over Japanese quotes, the
            # answer figures marked went from 9/12 to 12/12 of those figures() reads).
            spans = highlight_spans(quote.text, terms, every_figure=every_figure or text_language != language,
                                    question_figures=asked)
            glossary = self.glossary if text_language != language else None
            glosses = glossary.glosses(quote.text, text_language=text_language, reader=language,
                                       first=matched_terms(quote.text, terms)) if glossary else []
            out.append(quote.model_copy(update={"highlights": spans, "glosses": glosses}))
        return out
