"""``kiji eval`` and ``kiji fit``: measure answers on question files, fit the answer model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiji.cli import resources
from kiji.cli.resources import settings_from
from kiji.errors import InvalidInput

if TYPE_CHECKING:
    from kiji.retrieval.answer.model import AnswerModel
    from kiji.retrieval.engine import Engine
    from kiji.retrieval.evaluation import Item
    from kiji.retrieval.generation.blocking import BlockingGenerator
    from kiji.retrieval.search.candidates import Mode
    from kiji.settings import Settings


def question_sets(args: argparse.Namespace, settings: Settings,
                   base: Engine | None = None) -> list[tuple[str, list[Any], Engine]]:
    """``QUESTIONS[@INDEX_DIR]`` specs → (name, items, engine); engines share one loaded model
    (``base``'s, else the settings' engine's)."""
    from kiji.retrieval.evaluation import load_items
    from kiji.retrieval.index.store import load_current

    base = base or resources.engine(settings)
    out = []
    for spec in args.sets:
        path, _, index_dir = spec.partition("@")
        items = load_items(Path(path))
        engine = base.with_index(load_current(Path(index_dir))) if index_dir else base
        out.append((Path(path).parent.name if Path(path).stem == "questions" else Path(path).stem,
                    items, engine))
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    from kiji.retrieval.answer.fitting import cross_validated
    from kiji.retrieval.evaluation import collect_samples, format_table
    from kiji.retrieval.generation.evaluation import format_summary
    from kiji.retrieval.search.candidates import MODES

    settings = settings_from(args)
    sets = question_sets(args, settings)
    models = None
    if args.cv:
        samples = [s for name, items, engine in sets for s in collect_samples(engine, items, name)]
        models = cross_validated(samples, args.cv)
    modes = list(MODES) if args.ablation else [args.mode]
    write = resources.generation(settings)
    reports: dict[str, Any] = {}
    try:
        for name, items, engine in sets:
            for mode in modes:
                key = f"{name} {mode or engine.mode}" + (f" cv{args.cv}" if args.cv else "")
                reports[key] = evaluate_set(engine, items, mode, args.top_k, write, models, name)
    finally:
        if write is not None:
            write.close()
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else next(iter(reports.values())),
                         ensure_ascii=False, indent=2))
    else:
        for key, report in reports.items():
            print(format_table(report, f"== {key} (runtime {sets[0][2].embedder.runtime})"))
            if "generation" in report:
                print(format_summary(report["generation"]))
            print()
    return 0


def evaluate_set(engine: Engine, items: list[Item], mode: Mode | None, top_k: int,
              write: BlockingGenerator | None, models: dict[str, AnswerModel] | None = None,
              group: str = "") -> dict[str, Any]:
    from kiji.retrieval.evaluation import evaluate

    if write is None or models is not None:
        # Cross-validation measures the answer model, not the language model: extractive answers.
        return evaluate(engine, items, mode=mode, top_k=top_k, models=models, group=group)
    from kiji.retrieval.generation.blocking import GeneratingEngine
    from kiji.retrieval.generation.evaluation import GenerationStats

    # With a model: the same figures on what a reader is shown, plus how generation went.
    stats = GenerationStats(write.generator.model)
    report = evaluate(GeneratingEngine(engine, write), items, mode=mode, top_k=top_k,  # type: ignore[arg-type]
                      on_item=lambda _item, result: stats.add(result))
    return {**report, "generation": stats.summary()}


def cmd_fit(args: argparse.Namespace) -> int:
    from kiji.retrieval.answer.fitting import fit
    from kiji.retrieval.evaluation import collect_samples

    settings = settings_from(args)
    samples = [s for name, items, engine in question_sets(args, settings, resources.unfitted_engine(settings))
               for s in collect_samples(engine, items, name)]
    try:
        model = fit(samples, target_answered=args.target, quote_margin=args.quote_margin,
                    source_margin=args.source_margin, l2_ranker=args.l2_ranker)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    model.save(Path(args.out))
    print(f"answer model written to {args.out}: {len(samples)} questions, threshold {model.threshold:.3f}")
    for title, linear in (("ranker", model.ranker), ("answer", model.answer)):
        print(f"{title}: " + ", ".join(f"{n} {w:+.2f}" for n, w in linear.explain()))
    return 0
