"""``kiji ask``: one question, or one per line of stdin (the model loaded once)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from kiji.cli import resources
from kiji.cli.console import eprint, loading_notice, print_human
from kiji.cli.resources import settings_from
from kiji.errors import InvalidInput

if TYPE_CHECKING:
    from kiji.retrieval.engine import Engine
    from kiji.retrieval.models import AskResult


def cmd_ask(args: argparse.Namespace) -> int:
    from kiji.retrieval.validation import validate_question, validate_top_k

    settings = settings_from(args)
    validate_top_k(args.top_k)
    if args.question != "-":
        validate_question(args.question, settings.max_question_chars)  # before loading anything
    with loading_notice(sys.stderr, enabled=not args.json):
        engine = resources.engine(settings)
    write = resources.generation(settings)
    try:
        return ask_all(args, engine, write or (lambda result: result))
    finally:
        if write is not None:
            write.close()


def ask_all(args: argparse.Namespace, engine: Engine, write: Callable[[AskResult], AskResult]) -> int:
    if args.question != "-":
        result = write(engine.ask(args.question, top_k=args.top_k, language=args.language))
        if args.json:
            print(result.model_dump_json())
        else:
            print_human(result, verbose=args.verbose)
        return 0
    status = 0
    for number, question, problem in stdin_questions():
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
                eprint(f"error: line {number}: {exc}")
            continue
        result = write(result)
        if args.json:
            print(result.model_dump_json(), flush=True)
        else:
            print_human(result, verbose=args.verbose)
            print("-" * 60)
    return status


def stdin_questions() -> Iterator[tuple[int, str, InvalidInput | None]]:
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
