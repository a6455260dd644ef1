"""The `kiji ask` JSON contract, stdin mode, bad input and a missing index, through the real CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiji import cli
from kiji.cli import resources
from kiji.retrieval.engine import Engine

CONTRACT_KEYS = {"question", "language", "answered", "answer", "quotes"}
QUOTE_KEYS = {"article_id", "title", "text", "start", "end", "score"}


@pytest.fixture()
def use_fake(monkeypatch: pytest.MonkeyPatch, fake_engine: Engine) -> Engine:
    monkeypatch.setattr(resources, "engine", lambda settings: fake_engine)
    return fake_engine


def _check_contract(obj: dict, engine: Engine) -> None:
    assert CONTRACT_KEYS <= obj.keys()
    assert obj["language"] in ("ja", "en")
    assert isinstance(obj["answered"], bool) and isinstance(obj["answer"], str) and obj["answer"]
    for q in obj["quotes"]:
        assert QUOTE_KEYS <= q.keys()
        assert engine.index.articles[q["article_id"]].text[q["start"]:q["end"]] == q["text"]
        assert isinstance(q["score"], float)


def test_ask_json_japanese(use_fake: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "--json", "DeepSeekの従業員数は?"]) == 0
    obj = json.loads(capsys.readouterr().out)
    _check_contract(obj, use_fake)
    assert obj["language"] == "ja" and obj["question"] == "DeepSeekの従業員数は?"
    assert 1 <= len(obj["quotes"]) <= 3 or not obj["answered"]


def test_ask_json_english_and_top_k(use_fake: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "--json", "--top-k", "5", "How much did TSMC fall?"]) == 0
    obj = json.loads(capsys.readouterr().out)
    _check_contract(obj, use_fake)
    assert obj["language"] == "en" and len(obj["quotes"]) <= 5


def test_ask_human_output_shows_quotes(use_fake: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "TSMCは何%下落した?"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    result = use_fake.ask("TSMCは何%下落した?")
    assert result.answer.splitlines()[0] in out
    for q in result.quotes:
        assert q.title in out and q.text in out
    # Offsets, scores and the index version are behind --verbose.
    assert "chars " not in out and "score " not in out and "index " not in captured.err
    assert cli.main(["ask", "--verbose", "TSMCは何%下落した?"]) == 0
    captured = capsys.readouterr()
    for q in result.quotes:
        assert f"chars {q.start}-{q.end}, score {q.score:.3f}" in captured.out
    assert f"index {result.index_version}" in captured.err and "answer probability" in captured.err


def test_clearly_weaker_quotes_are_under_also_relevant(capsys: pytest.CaptureFixture[str]) -> None:
    from kiji.cli.console import print_human
    from kiji.retrieval.answer.compose import weaker_marked
    from kiji.retrieval.models import AskResult, Quote

    quotes = [Quote(article_id="a", title=f"T{i}", text=f"text {i}", start=0, end=6, score=s, chunk_id=0)
              for i, s in enumerate([8.7, 7.9, 4.5])]
    marked = weaker_marked(quotes, 3.0)
    assert [q.also_relevant for q in marked] == [False, False, True]
    assert weaker_marked(quotes, None) == quotes  # sources differ: each quote stands for itself
    print_human(AskResult(question="q", language="en", answered=True, answer="A", quotes=marked,
                          index_version="v"))
    out = capsys.readouterr().out
    assert out.index("[2] T1") < out.index("Also relevant:") < out.index("[3] T2")


def test_stdin_mode_one_object_per_line_in_order(use_fake: Engine, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    questions = ["DeepSeekの従業員数は?", "How much did TSMC fall?", "   ", "箱根でおすすめの温泉宿ある?"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(questions) + "\n"))
    status = cli.main(["ask", "--json", "-"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    objs = [json.loads(line) for line in lines]
    assert [o["question"] for o in objs] == questions
    assert objs[2]["error"]["code"] == "invalid_input"
    for obj in objs[:2] + objs[3:]:
        _check_contract(obj, use_fake)
    assert status == 2  # one line was invalid; the others were still answered


@pytest.mark.parametrize("question", ["", "   \t ", "あ" * 1001])
def test_bad_question_exit_2_one_line(question: str, use_fake: Engine,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "--json", question]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("kiji: error:") and "Traceback" not in err


def test_top_k_out_of_range_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["ask", "--top-k", "11", "q"])
    assert exc.value.code == 2
    assert "from 1 to 10" in capsys.readouterr().err


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "kiji.cli", "ask", "--index-dir", str(tmp_path / "none"),
                           "DeepSeekとは?"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert "kiji index build" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_ask_bolds_highlights_on_a_terminal_only(use_fake: Engine, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    question = "How much did NVIDIA's stock fall?"
    assert cli.main(["ask", question]) == 0
    piped = capsys.readouterr().out
    assert "\x1b[" not in piped
    # Glossed for an English reader: a line of "term meaning" under each Japanese quote.
    result = use_fake.ask(question)
    first = (result.quotes or result.related)[0]
    assert f"{first.glosses[0].term} {first.glosses[0].gloss}" in piped
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert cli.main(["ask", question]) == 0
    shown = terminal.getvalue()
    s, e = first.highlights[0]
    assert f"\x1b[1m{first.text[s:e]}\x1b[0m" in shown
    monkeypatch.setenv("NO_COLOR", "1")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert cli.main(["ask", question]) == 0
    assert "\x1b[" not in terminal.getvalue()
