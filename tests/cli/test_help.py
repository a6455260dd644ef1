"""The command line as a newcomer meets it: help with defaults and examples, --version, bare
``kiji``, the nearest command for a typo, a loading message on a terminal only, whole eval headers."""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import pytest

from kiji.cli.app import build_parser, kiji_version
from kiji.cli.console import LOADING_MESSAGE, loading_notice
from kiji.retrieval.evaluation import _COLUMNS, format_table
from tests.kiji_cli import kiji


def _commands(parser: argparse.ArgumentParser, path: str = "kiji") -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _commands(sub, f"{path} {name}")
    return out


def test_every_option_says_its_default_and_every_command_ends_with_an_example() -> None:
    commands = _commands(build_parser())
    assert len(commands) >= 14
    for path, parser in commands:
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{path}: {action.dest} has no help"
            if action.option_strings:
                assert "default" in action.help, f"{path} {action.option_strings[0]}: no default in its help"
        text = parser.format_help()
        tail = text.rstrip().split("\n\n")[-1]
        assert tail.startswith("example:") and "kiji " in tail, f"{path}: help ends without an example"


def test_version_and_bare_kiji() -> None:
    run = kiji("--version", fake=False)
    assert run.code == 0 and run.out.strip() == f"kiji {kiji_version()}" and kiji_version() != "unknown"
    bare = kiji(fake=False)
    assert bare.code == 0 and bare.out.startswith("usage: kiji") and "ask" in bare.out and not bare.err


@pytest.mark.parametrize(("argv", "nearest"), [(["ak", "x"], "ask"), (["serv"], "serve"),
                                                (["index", "biuld"], "build")])
def test_a_mistyped_command_gets_the_nearest_suggested(argv: list[str], nearest: str) -> None:
    run = kiji(*argv, fake=False)
    assert run.code == 2 and len(run.err_lines) == 1
    assert f"did you mean `{nearest}`?" in run.err


def test_nothing_is_suggested_for_a_word_far_from_every_command() -> None:
    run = kiji("zzzzzz", fake=False)
    assert run.code == 2 and "did you mean" not in run.err and "invalid choice" in run.err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_loading_message_shows_on_a_terminal_after_the_delay_and_is_erased() -> None:
    slow = _Terminal()
    with loading_notice(slow, delay=0.05):
        time.sleep(0.3)
    assert slow.getvalue() == LOADING_MESSAGE + "\r\x1b[K"
    fast = _Terminal()
    with loading_notice(fast, delay=0.5):
        pass
    assert fast.getvalue() == ""
    for quiet in (io.StringIO(), _Terminal()):  # piped; or --json (enabled=False)
        with loading_notice(quiet, delay=0.0, enabled=isinstance(quiet, _Terminal) is False):
            time.sleep(0.1)
        assert quiet.getvalue() == ""


def test_ask_when_piped_prints_no_loading_message(fake_index_dir: Path) -> None:
    run = kiji("ask", "How much did TSMC fall?", "--index-dir", fake_index_dir)
    assert run.code == 0 and "loading" not in run.err and LOADING_MESSAGE not in run.out


def test_eval_table_headers_are_whole() -> None:
    metrics = dict.fromkeys(_COLUMNS, 0.5) | {"n": 12, "quote_chars": 140, "p50_ms": 41}
    table = format_table({"overall": metrics, "by_language": {"ja": metrics}, "by_kind": {"multi_source": metrics}})
    header = table.splitlines()[0].split()
    assert header == ["group", *_COLUMNS]
    widths = {len(line) for line in table.splitlines()}
    assert len(widths) == 1  # every row lines up under the headers
