"""What the commands print besides JSON: progress bars and messages on stderr, answers for people."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiji.retrieval.models import AskResult


def progress_factory(label: str) -> Callable[[int], Callable[[int], None]]:
    def factory(total: int) -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=label, unit="passage", file=sys.stderr, dynamic_ncols=True,
                   disable=None, smoothing=0.1)

        def tick(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return tick

    return factory


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def print_human(result: AskResult) -> None:
    print(result.answer)
    if result.quotes:
        print()
    for i, q in enumerate(result.quotes, 1):
        print(f"[{i}] {q.title}  ({q.article_id}, chars {q.start}-{q.end}, score {q.score:.3f})")
        for line in q.text.splitlines():
            print(f"    > {line}")
    if result.related:
        print("\n" + ("関連しそうな箇所(質問に答えているとは限りません):" if result.language == "ja"
                      else "Closest passages (they may not answer the question):"))
    for q in result.related:
        print(f"  - {q.title}  ({q.article_id}, chars {q.start}-{q.end})")
        for line in q.text.splitlines():
            print(f"    > {line}")
    print(f"\n(index {result.index_version}, {result.took_ms:.0f} ms{how_written(result)})", file=sys.stderr)


def how_written(result: AskResult) -> str:
    """With a model configured: who wrote the answer, or why the model's answer was not used."""
    from kiji.retrieval.generation.result import DECLINED, GeneratedAskResult

    if not isinstance(result, GeneratedAskResult) or result.fallback_reason == DECLINED:
        return ""
    if result.model_declined:
        return "; the language model found no answer in the quotes"
    if result.answer_mode == "generated":
        unsourced = f"; {len(result.unsourced)} sentence(s) cite no quote" if result.unsourced else ""
        return "; answer written by the language model, checked against the quotes" + unsourced
    return f"; extractive answer, the model's was not used: {result.fallback_reason}"
