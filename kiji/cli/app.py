"""The ``kiji`` parser and ``main``: each subcommand's function runs, and whatever it raises leaves
as one line on stderr with the exit status of its kind."""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from kiji.cli.ask import cmd_ask
from kiji.cli.console import eprint
from kiji.cli.feed import cmd_feed_add, cmd_feed_list, cmd_feed_remove, cmd_feed_sync
from kiji.cli.index import (
    cmd_index_add,
    cmd_index_build,
    cmd_index_info,
    cmd_index_remove,
    cmd_index_rollback,
    cmd_model_list,
    cmd_model_prepare,
)
from kiji.cli.quality import cmd_eval, cmd_fit
from kiji.cli.serve import cmd_bot, cmd_serve
from kiji.exit_codes import BUG, INTERRUPTED, OUTPUT_CLOSED, as_kiji_error, status_for
from kiji.retrieval.answer.tuning import L2_RANKER, QUOTE_MARGIN, SOURCE_MARGIN, TARGET_ANSWERED
from kiji.retrieval.validation import DEFAULT_TOP_K, MAX_TOP_K


def top_k_arg(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be an integer") from None
    if not 1 <= k <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_TOP_K}")
    return k


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help as written: the examples at the end keep their lines."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line like every other error (argparse prints
    its usage block first: three lines and more), and a mistyped command gets the nearest one
    suggested (as git does); ``--help`` still shows the whole usage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        hint = ""
        wrong = _INVALID_CHOICE.search(message)
        if wrong and "(choose from" in message:
            choices = _CHOICES.findall(message.split("(choose from", 1)[1])
            near = difflib.get_close_matches(wrong.group(1), choices, n=1, cutoff=0.5)
            if near:
                hint = f"; did you mean `{near[0]}`?"
        eprint(f"kiji: error: {' '.join(message.split())}{hint} (see `{self.prog} --help`)")
        sys.exit(2)


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)'")
_CHOICES = re.compile(r"'([^']*)'")


def _example(*lines: str) -> str:
    return "example:\n" + "\n".join(f"  {line}" for line in lines)


def kiji_version() -> str:
    try:
        return importlib.metadata.version("kiji")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kiji", description="Answers questions about articles with verbatim quotes.",
                     epilog=_example('kiji ask "How much did NVIDIA fall?"', "kiji ask --help"))
    parser.add_argument("--version", action="version", version=f"kiji {kiji_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", dest="corpus_dir",
                       help="corpus folder (default: KIJI_CORPUS_DIR, else the shipped articles)")
        p.add_argument("--index-dir", dest="index_dir", help="index folder (default: KIJI_INDEX_DIR, else var/index)")

    def json_flag(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--json", action="store_true", help=f"print {what} as JSON (default: text)")

    model = sub.add_parser("model", help="the embedding model",
                           epilog=_example("kiji model list", "kiji model prepare embeddinggemma-300m")
                           ).add_subparsers(dest="model_cmd", required=True, metavar="COMMAND")
    prep = model.add_parser("prepare", help="fetch, verify and export an offline model (default: the "
                                            "one KIJI_EMBEDDING_MODEL names, else embeddinggemma-300m)",
                            epilog=_example("kiji model prepare embeddinggemma-300m --source hub"))
    prep.add_argument("name", nargs="?", help="a model from `kiji model list` (default: KIJI_EMBEDDING_MODEL)")
    prep.add_argument("--source", help="where the weights come from: mirror, hub, or a local folder "
                                       "holding the published files (default: mirror, then hub)")
    prep.add_argument("--dest", help="target folder (default: models/<name>)")
    prep.add_argument("--force", action="store_true", help="rebuild even if a verified model exists (default: off)")
    prep.add_argument("--no-onnx", action="store_true", help="skip the ONNX export (default: export)")
    prep.set_defaults(func=cmd_model_prepare)
    listing = model.add_parser("list", help="the models kiji can prepare, and which are ready",
                               epilog=_example("kiji model list"))
    listing.set_defaults(func=cmd_model_list)

    index = sub.add_parser("index", help="build and inspect the index",
                           epilog=_example("kiji index build", "kiji index add my-article.md")
                           ).add_subparsers(dest="index_cmd", required=True, metavar="COMMAND")
    build = index.add_parser("build", help="build a new index version from the corpus and publish it",
                             epilog=_example("kiji index build --if-changed"))
    paths(build)
    build.add_argument("--full", action="store_true", help="re-embed everything, ignoring the cache (default: off)")
    build.add_argument("--if-changed", action="store_true",
                       help="publish nothing when the current version already holds this corpus "
                            "(same articles, chunking and model; default: off)")
    json_flag(build, "the summary")
    build.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="embed new passages on a Ray cluster (the `ray` extra): ADDRESS, else "
                            "KIJI_RAY_ADDRESS, else a local instance (`--ray local` forces one; default: "
                            "no Ray)")
    build.set_defaults(func=cmd_index_build)
    info = index.add_parser("info", help="show index versions", epilog=_example("kiji index info --json"))
    paths(info)
    json_flag(info, "the versions")
    info.set_defaults(func=cmd_index_info)
    rb = index.add_parser("rollback", help="serve the previous index version again",
                          epilog=_example("kiji index rollback"))
    paths(rb)
    rb.set_defaults(func=cmd_index_rollback)
    add = index.add_parser("add", help="copy files or fetch web pages (URLs) into the corpus and rebuild",
                           epilog=_example("kiji index add news.md notes.html",
                                           "kiji index add https://example.com/posts/1",
                                           "kiji index add --replace news.md"))
    paths(add)
    add.add_argument("paths", nargs="+", metavar="PATH_OR_URL",
                     help="article files (see `docs/formats.md` for the formats) or http(s) URLs of pages")
    add.add_argument("--replace", action="store_true",
                     help="replace articles whose id is already in the corpus (default: refused)")
    json_flag(add, "the summary")
    add.set_defaults(func=cmd_index_add)
    rm = index.add_parser("remove", help="remove an article from the corpus and rebuild",
                          epilog=_example("kiji index remove 004_3d3e6c5de38689e2"))
    paths(rm)
    rm.add_argument("id", help="the article's id (`kiji index info` or GET /v1/articles lists them)")
    json_flag(rm, "the summary")
    rm.set_defaults(func=cmd_index_remove)

    feed = sub.add_parser("feed", help="follow RSS/Atom feeds and sitemaps",
                          epilog=_example("kiji feed add https://example.com/feed.xml", "kiji feed sync")
                          ).add_subparsers(dest="feed_cmd", required=True)
    for name, func, helptext in (("add", cmd_feed_add, "follow a feed (RSS, Atom or sitemap.xml)"),
                                 ("remove", cmd_feed_remove, "stop following a feed (its articles stay)")):
        p = feed.add_parser(name, help=helptext, epilog=_example(f"kiji feed {name} https://example.com/feed.xml"))
        paths(p)
        p.add_argument("url", help="the feed's URL (http or https)")
        p.set_defaults(func=func)
    fl = feed.add_parser("list", help="the feeds followed", epilog=_example("kiji feed list"))
    paths(fl)
    fl.set_defaults(func=cmd_feed_list)
    fs = feed.add_parser("sync", help="fetch new and changed entries of every feed and publish them in one build",
                         epilog=_example("kiji feed sync", "kiji feed sync --prune"))
    paths(fs)
    fs.add_argument("--prune", action="store_true",
                    help="also remove articles whose entry left its feed (default: nothing is removed)")
    json_flag(fs, "the build's summary")
    fs.set_defaults(func=cmd_feed_sync)

    ask = sub.add_parser("ask", help="answer a question ('-' reads one question per line from stdin)",
                         epilog=_example('kiji ask "DeepSeekの従業員数は?"',
                                         'kiji ask --json --top-k 5 "How much did TSMC fall?"',
                                         "kiji ask --json - < questions.txt"))
    paths(ask)
    ask.add_argument("question", help="the question, in Japanese or English; '-' reads one per line from stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question (default: text)")
    ask.add_argument("--top-k", type=top_k_arg, default=DEFAULT_TOP_K,
                     help=f"quotes to show, 1-{MAX_TOP_K} (default: {DEFAULT_TOP_K})")
    ask.add_argument("--language", choices=["ja", "en"], help="answer language (default: the question's)")
    ask.add_argument("-v", "--verbose", action="store_true",
                     help="also show each quote's article id, offsets and score, and the index version "
                          "and answer probability on stderr (default: off)")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="measure quality on a question file (dev.jsonl format)",
                        epilog=_example("kiji eval /work/shared/eval/dev.jsonl", "kiji eval --cv 5 dev.jsonl"))
    paths(ev)
    ev.add_argument("sets", nargs="+", metavar="QUESTIONS[@INDEX_DIR]",
                    help="question file(s), each optionally with the index version folder it asks about")
    json_flag(ev, "the report")
    ev.add_argument("--cv", type=int, default=0, metavar="K",
                    help="k-fold cross-validation: each question answered by a model fitted without it "
                         "(default: 0, none)")
    ev.add_argument("--top-k", type=top_k_arg, default=DEFAULT_TOP_K,
                    help=f"quotes per answer, 1-{MAX_TOP_K} (default: {DEFAULT_TOP_K})")
    ev.add_argument("--mode", choices=["dense", "lexical", "fused", "fused+bridge"], default=None,
                    help="retrieval mode (default: fused+bridge)")
    ev.add_argument("--ablation", action="store_true", help="run every retrieval mode (default: off)")
    ev.set_defaults(func=cmd_eval)

    ft = sub.add_parser("fit", help="fit the answer model (ranker and answer/decline) from question files",
                        epilog=_example("kiji fit dev.jsonl --out retrieval/answer/fitted/my-model.json"))
    paths(ft)
    ft.add_argument("sets", nargs="+", metavar="QUESTIONS[@INDEX_DIR]",
                    help="question file(s), each optionally with the index version folder it asks about")
    ft.add_argument("--out", required=True, help="where to write the model (JSON; required, no default)")
    ft.add_argument("--target", type=float, default=TARGET_ANSWERED,
                    help=f"share of answerable training questions to answer (sets the threshold; "
                         f"default: {TARGET_ANSWERED})")
    ft.add_argument("--quote-margin", type=float, default=QUOTE_MARGIN,
                    help=f"quotes after the first are shown while their ranker score is within this of the "
                         f"best (default: {QUOTE_MARGIN})")
    ft.add_argument("--source-margin", type=float, default=SOURCE_MARGIN,
                    help=f"another article's best sentence moves up to second place within this of the best "
                         f"(default: {SOURCE_MARGIN})")
    ft.add_argument("--l2-ranker", type=float, default=L2_RANKER,
                    help=f"L2 regularisation of the ranker's weights (default: {L2_RANKER})")
    ft.set_defaults(func=cmd_fit)

    serve = sub.add_parser("serve", help="run the HTTP API and the web page",
                           epilog=_example("kiji serve --port 8000", "KIJI_API_KEYS=secret kiji serve --host 0.0.0.0"))
    paths(serve)
    serve.add_argument("--host", help="address to listen on (default: KIJI_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: KIJI_PORT, else 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: KIJI_WORKERS, else 1)")
    serve.set_defaults(func=cmd_serve)

    bot = sub.add_parser("bot", help="run the Discord bot (DISCORD_TOKEN from the environment)",
                         epilog=_example("DISCORD_TOKEN=... kiji bot"))
    paths(bot)
    bot.set_defaults(func=cmd_bot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("KIJI_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # bare `kiji`: what it can do, as git and cargo show
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        eprint("kiji: interrupted")
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
            eprint(f"kiji: internal error: {type(exc).__name__} (set KIJI_DEBUG=1 for the traceback)")
            return BUG
        eprint(f"kiji: error: {' '.join(str(error).split())}")  # one line, whatever the message holds
        return status_for(error)
