"""The ``kiji`` parser and ``main``: each subcommand's function runs, and whatever it raises leaves
as one line on stderr with the exit status of its kind."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from kiji.cli.ask import cmd_ask
from kiji.cli.console import eprint
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
from kiji.retrieval.answer.tuning import QUOTE_MARGIN, SOURCE_MARGIN, TARGET_ANSWERED
from kiji.retrieval.validation import DEFAULT_TOP_K, MAX_TOP_K


def top_k_arg(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be an integer") from None
    if not 1 <= k <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_TOP_K}")
    return k


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line like every other error (argparse prints
    its usage block first: three lines and more); ``--help`` still shows the whole usage."""

    def error(self, message: str) -> NoReturn:
        eprint(f"kiji: error: {' '.join(message.split())} (see `{self.prog} --help`)")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kiji", description="Answers questions about articles with verbatim quotes.")
    sub = parser.add_subparsers(dest="command", required=True)

    def paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", dest="corpus_dir", help="corpus folder (KIJI_CORPUS_DIR)")
        p.add_argument("--index-dir", dest="index_dir", help="index folder (KIJI_INDEX_DIR)")

    model = sub.add_parser("model", help="the embedding model").add_subparsers(dest="model_cmd", required=True)
    prep = model.add_parser("prepare", help="fetch, verify and export an offline model (default: the "
                                            "one KIJI_EMBEDDING_MODEL names, else multilingual-e5-small)")
    prep.add_argument("name", nargs="?", help="a model from `kiji model list`")
    prep.add_argument("--source", help="where the weights come from: mirror, hub, or a local folder "
                                       "holding the published files (default: mirror, then hub)")
    prep.add_argument("--dest", help="target folder (default: models/<name>)")
    prep.add_argument("--force", action="store_true", help="rebuild even if a verified model exists")
    prep.add_argument("--no-onnx", action="store_true", help="skip the ONNX export")
    prep.set_defaults(func=cmd_model_prepare)
    listing = model.add_parser("list", help="the models kiji can prepare, and which are ready")
    listing.set_defaults(func=cmd_model_list)

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
    ask.add_argument("--top-k", type=top_k_arg, default=DEFAULT_TOP_K,
                     help=f"quotes to show, 1-{MAX_TOP_K} (default {DEFAULT_TOP_K})")
    ask.add_argument("--language", choices=["ja", "en"], help="answer language (default: the question's)")
    ask.add_argument("-v", "--verbose", action="store_true",
                     help="also show each quote's article id, offsets and score, and the index version "
                          "and answer probability on stderr (default: off)")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="measure quality on a question file (dev.jsonl format)")
    paths(ev)
    ev.add_argument("sets", nargs="+", metavar="QUESTIONS[@INDEX_DIR]",
                    help="question file(s), each optionally with the index version folder it asks about")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--cv", type=int, default=0, metavar="K",
                    help="k-fold cross-validation: each question answered by a model fitted without it")
    ev.add_argument("--top-k", type=top_k_arg, default=DEFAULT_TOP_K)
    ev.add_argument("--mode", choices=["dense", "lexical", "fused", "fused+bridge"], default=None)
    ev.add_argument("--ablation", action="store_true", help="run every retrieval mode")
    ev.set_defaults(func=cmd_eval)

    ft = sub.add_parser("fit", help="fit the answer model (ranker and answer/decline) from question files")
    paths(ft)
    ft.add_argument("sets", nargs="+", metavar="QUESTIONS[@INDEX_DIR]")
    ft.add_argument("--out", required=True, help="where to write the model (JSON)")
    ft.add_argument("--target", type=float, default=TARGET_ANSWERED,
                    help=f"share of answerable training questions to answer (sets the threshold; "
                         f"default {TARGET_ANSWERED})")
    ft.add_argument("--quote-margin", type=float, default=QUOTE_MARGIN,
                    help=f"quotes after the first are shown while their ranker score is within this of the "
                         f"best (default {QUOTE_MARGIN})")
    ft.add_argument("--source-margin", type=float, default=SOURCE_MARGIN,
                    help=f"another article's best sentence moves up to second place within this of the best "
                         f"(default {SOURCE_MARGIN})")
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
