"""Whether to answer at all: close enough in meaning, and no specific term the articles lack."""

from __future__ import annotations

from dataclasses import dataclass

from kiji.retrieval.answer.quotes import Scored
from kiji.retrieval.answer.tuning import DEFAULT_TUNING, Tuning


@dataclass(frozen=True, slots=True)
class Decision:
    answered: bool
    reason: str
    confidence: float


def decide(scored: list[Scored], tuning: Tuning = DEFAULT_TUNING,
           missing: list[str] | None = None) -> Decision:
    """Answer only when (1) the best sentences are close to the question in meaning and (2) no
    specific term of the question (a name, a product, a katakana term) is absent from the whole
    corpus, unless a passage is near-identical to the question."""
    if not scored:
        return Decision(False, "no candidate passages", 0.0)
    top = scored[:3]
    dense = max(s.dense for s in top)
    coverage = max(s.coverage for s in top)
    if dense < tuning.min_dense:
        return Decision(False, f"best passage too far in meaning (cosine {dense:.3f})", dense)
    if missing and dense < tuning.missing_term_dense:
        return Decision(False, f"the articles never mention {', '.join(missing)}", dense)
    return Decision(True, f"ok (cosine {dense:.3f}, term coverage {coverage:.2f})", dense)
