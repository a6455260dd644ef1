"""`kiji ask` (one question, --json, --json - batches) and `kiji eval` with a language model
configured through the environment, against the scripted OpenAI-compatible server."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kiji import cli
from kiji.cli import resources
from kiji.retrieval.engine import Engine
from kiji.retrieval.generation.result import GeneratedAskResult
from kiji.retrieval.models import AskResult
from tests.fake_llm import FakeLLM, Reply, unused_port
from tests.generation_cases import (
    API_KEY,
    CASE_IDS,
    CASES,
    GOOD_EN,
    GOOD_JA,
    Q_EN,
    Q_JA,
    Case,
    check_shown,
    cite,
    expected_text,
    question_in,
)

OFF_TOPIC = "What is the recipe for Okonomiyaki?"
#: Points the CLI at the scripted model (for a case, or plainly with a timeout).
Configure = Callable[..., None]


@pytest.fixture()
def engine(generation_engine: Engine) -> Engine:
    """The shipped corpus plus the planted article (tests/conftest.py), built once per session."""
    return generation_engine


@pytest.fixture()
def configure(monkeypatch: pytest.MonkeyPatch, engine: Engine, llm: FakeLLM) -> Configure:
    """Point the CLI at the engine and, through the environment, at the scripted model."""
    monkeypatch.setattr(resources, "engine", lambda settings: engine)
    llm.requests.clear()

    def apply(case: Case | None = None, timeout_s: float = 5.0) -> None:
        base_url = f"http://127.0.0.1:{unused_port()}/v1" if case and case.absent else llm.base_url
        monkeypatch.setenv("KIJI_LLM_BASE_URL", base_url)
        monkeypatch.setenv("KIJI_LLM_MODEL", llm.model)
        monkeypatch.setenv("KIJI_LLM_API_KEY", API_KEY)
        monkeypatch.setenv("KIJI_LLM_TIMEOUT_S", str(case.timeout_s if case else timeout_s))
        if case is not None:
            llm.handler = case.script

    return apply


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_ask_json_each_case(case: Case, configure: Configure, engine: Engine, llm: FakeLLM,
                            capsys: pytest.CaptureFixture[str]) -> None:
    configure(case)
    assert cli.main(["ask", "--json", case.question]) == 0
    out, err = capsys.readouterr()
    model_text = expected_text(case, llm.completions[-1].body) if llm.completions else None
    check_shown(case, engine.ask(case.question), json.loads(out), model_text)
    assert API_KEY not in out + err


def test_human_output_of_a_generated_answer(configure: Configure, engine: Engine, llm: FakeLLM,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    llm.handler = GOOD_EN
    assert cli.main(["ask", Q_EN]) == 0
    out, err = capsys.readouterr()
    text = GOOD_EN(llm.completions[-1].body).text
    assert out.startswith(text + "\n\n[1] ")
    for i, q in enumerate(engine.ask(Q_EN).quotes, 1):  # the numbers the answer cites are these
        assert f"[{i}] {q.title}" in out and f"    > {q.text}" in out
    assert "answer written by the language model, checked against the quotes" in err


def test_human_output_when_the_model_answer_is_rejected(
        configure: Configure, engine: Engine, llm: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    llm.handler = lambda body: Reply(text=f"NVIDIAは時間外取引で23%下落しています[{cite(body, '11%')}]。")
    assert cli.main(["ask", Q_JA]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(engine.ask(Q_JA).answer + "\n")
    assert "23%" not in out and "the model's was not used: figure_not_in_passages" in err


def test_batch_mode_answers_each_line_with_the_model(configure: Configure, engine: Engine, llm: FakeLLM,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    configure()
    llm.handler = lambda body: (GOOD_JA if question_in(body) == Q_JA else GOOD_EN)(body)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{Q_JA}\n   \n{Q_EN}\n{OFF_TOPIC}\n"))
    assert cli.main(["ask", "--json", "-"]) == 2
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("answer_mode") for o in objs] == ["generated", None, "generated", "extractive"]
    assert objs[1]["error"]["code"] == "invalid_input"
    assert objs[3]["fallback_reason"] == "declined" and not objs[3]["answered"]
    assert len(llm.completions) == 2  # one connection, one request per answered question


def test_eval_reports_generation(configure: Configure, llm: FakeLLM, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    items = [
        {"id": "ja", "lang": "ja", "question": Q_JA, "answerable": True, "kind": "fact",
         "gold": [{"article": "004_3d3e6c5de38689e2.txt", "quote": "11%下落"}], "answer_keywords": ["11%"]},
        {"id": "en", "lang": "en", "question": Q_EN, "answerable": True, "kind": "fact", "gold": [],
         "answer_keywords": ["11%"]},
        {"id": "no", "lang": "en", "question": OFF_TOPIC, "answerable": False, "kind": "junk"},
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    plain_env = cli.main(["eval", "--json", str(path)])  # no model configured: today's report
    plain = json.loads(capsys.readouterr().out)
    assert plain_env == 0 and "generation" not in plain
    configure()
    # The Japanese answer is good; the English one cites a passage that was not given.
    llm.handler = lambda body: (GOOD_JA(body) if question_in(body) == Q_JA
                                else Reply(text="NVIDIA fell 11% [9]."))
    assert cli.main(["eval", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    gen = report["generation"]
    assert (gen["questions"], gen["asked"], gen["checked"]) == (3, 2, 2)
    assert gen["generated"] == 0.5 and gen["fallen_back"] == 0.5
    assert gen["fallback_reasons"] == {"citation_out_of_range": 0.5}
    assert gen["citation_validity"] == 0.5 and gen["quotes_verbatim"] == 1.0
    # the same quality figures, measured on what the reader is shown
    assert set(report["overall"]) == set(plain["overall"])
    assert report["overall"]["hit@3"] == plain["overall"]["hit@3"]
    assert report["overall"]["keyword_hit"] == 1.0
    assert cli.main(["eval", str(path)]) == 0
    table = capsys.readouterr().out
    assert f"generation (model {llm.model}): asked 2 of 3" in table and "citation_out_of_range" in table


def test_without_model_settings_the_output_is_unchanged(
        monkeypatch: pytest.MonkeyPatch, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(resources, "engine", lambda settings: engine)
    for name in ("KIJI_LLM_BASE_URL", "KIJI_LLM_MODEL", "KIJI_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["ask", "--json", Q_JA]) == 0
    shown = json.loads(capsys.readouterr().out)
    expected = json.loads(engine.ask(Q_JA).model_dump_json())
    shown.pop("took_ms"), expected.pop("took_ms")
    added = set(GeneratedAskResult.model_fields) - set(AskResult.model_fields)
    assert shown == expected and not set(shown) & added


@pytest.mark.parametrize(("env", "message"), [
    ({"KIJI_LLM_BASE_URL": "http://127.0.0.1:9/v1"}, "KIJI_LLM_MODEL is not"),
    ({"KIJI_LLM_MODEL": "m"}, "KIJI_LLM_BASE_URL is not"),
    ({"KIJI_LLM_BASE_URL": "ftp://user:hunter2@host/v1", "KIJI_LLM_MODEL": "m"}, "http:// or https://"),
    ({"KIJI_LLM_BASE_URL": "http://x/v1", "KIJI_LLM_MODEL": "m", "KIJI_LLM_TIMEOUT_S": "0"}, "llm_timeout_s"),
])
def test_bad_model_settings_stop_with_a_message(
        env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["ask", Q_JA]) == 2
    err = capsys.readouterr().err
    assert message in err and "hunter2" not in err and len(err.strip().splitlines()) == 1
