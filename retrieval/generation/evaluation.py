"""What ``kiji eval`` adds when a model is configured: how often the model's answer was used, why it
was not, and how often its citations, quotations and figures held up."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kiji.retrieval.generation import result as reasons
from kiji.retrieval.generation.result import GeneratedAskResult
from kiji.retrieval.models import AskResult

#: Reasons that mean the model answered and verification judged the answer.
VERIFICATION = (reasons.EMPTY, reasons.NO_CITATIONS, reasons.CITATION_OUT_OF_RANGE,
                reasons.QUOTE_NOT_VERBATIM, reasons.FIGURE_NOT_IN_PASSAGES, reasons.WRONG_LANGUAGE)


class GenerationStats:
    def __init__(self, model: str) -> None:
        self.model = model
        self.results: list[GeneratedAskResult] = []

    def add(self, result: AskResult) -> None:
        if isinstance(result, GeneratedAskResult):
            self.results.append(result)

    def summary(self) -> dict[str, Any]:
        asked = [r for r in self.results if r.fallback_reason != reasons.DECLINED]
        checked = [r for r in asked if r.answer_mode == "generated" or r.fallback_reason in VERIFICATION]

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        def holds(rule: str) -> float | None:
            return share(sum(rule not in r.checks for r in checked), len(checked))

        fallbacks = Counter(r.fallback_reason for r in asked if r.answer_mode == "extractive")
        broken = Counter(c for r in checked for c in r.checks if c in VERIFICATION)
        return {
            "model": self.model,
            "questions": len(self.results),
            "asked": len(asked),  # kiji answered, so the model was asked to write the answer
            "generated": share(sum(r.answer_mode == "generated" and not r.model_declined for r in asked),
                               len(asked)),
            "model_declined": share(sum(r.model_declined for r in asked), len(asked)),
            "fallen_back": share(sum(fallbacks.values()), len(asked)),
            "fallback_reasons": {k: share(v, len(asked)) for k, v in sorted(fallbacks.items())},
            "checked": len(checked),  # the model's answer reached verification
            "citation_validity": holds(reasons.CITATION_OUT_OF_RANGE),
            "quotes_verbatim": holds(reasons.QUOTE_NOT_VERBATIM),
            "figures_supported": holds(reasons.FIGURE_NOT_IN_PASSAGES),
            "right_language": holds(reasons.WRONG_LANGUAGE),
            "rules_broken": dict(sorted(broken.items())),
        }


def format_summary(summary: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = [f"generation (model {summary['model']}): asked {summary['asked']} of {summary['questions']}",
             (f"  generated {pct(summary['generated'])}   model declined {pct(summary['model_declined'])}"
              f"   fell back {pct(summary['fallen_back'])}")]
    for reason, value in summary["fallback_reasons"].items():
        lines.append(f"    {reason:<26}{pct(value)}")
    lines.append(f"  of {summary['checked']} answers checked:"
                 f" citations valid {pct(summary['citation_validity'])}"
                 f"   quotes verbatim {pct(summary['quotes_verbatim'])}"
                 f"   figures supported {pct(summary['figures_supported'])}"
                 f"   right language {pct(summary['right_language'])}")
    return "\n".join(lines)
