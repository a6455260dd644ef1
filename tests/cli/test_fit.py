"""`kiji fit`: a model file from a question file, written even when the current one is stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiji import cli
from kiji.cli import resources
from kiji.retrieval.answer.model import AnswerModel
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import load_current
from tests.helpers import stale_model_file

ITEMS = [
    {"id": "a1", "lang": "ja", "question": "NVIDIAの株価はどれくらい下がった?", "answerable": True,
     "gold": [{"article": "004_3d3e6c5de38689e2.txt", "quote": "11%下落"}], "kind": "number"},
    {"id": "a2", "lang": "ja", "question": "Stargateの初期投資額は?", "answerable": True,
     "gold": [{"article": "001_8bc2b27f1b821c7b.txt", "quote": "初期投資額は1000億ドル"}], "kind": "number"},
    {"id": "a3", "lang": "en", "question": "How much did NVIDIA fall?", "answerable": True,
     "gold": [{"article": "004_3d3e6c5de38689e2.txt", "quote": "11%下落"}], "kind": "number"},
    {"id": "n1", "lang": "en", "question": "What is the recipe for okonomiyaki?", "answerable": False, "gold": [],
     "kind": "decline_off_topic"},
    {"id": "n2", "lang": "ja", "question": "箱根でおすすめの温泉宿は?", "answerable": False, "gold": [],
     "kind": "decline_off_topic"},
]


def test_fit_writes_a_loadable_model_when_the_current_one_is_stale(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_index_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    stale = stale_model_file(tmp_path / "stale.json", part="ranker")
    monkeypatch.setenv("KIJI_ANSWER_MODEL", str(stale))
    seen: list[AnswerModel] = []

    def unfitted(settings):
        assert settings.answer_model == stale  # the settings name the stale file; fit must not load it
        engine = Engine(index=load_current(fake_index_dir), embedder=FakeEmbedder(), model=AnswerModel.unfitted())
        seen.append(engine.model)
        return engine

    monkeypatch.setattr(resources, "unfitted_engine", unfitted)
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS), encoding="utf-8")
    out = tmp_path / "model.json"
    assert cli.main(["fit", str(questions), "--out", str(out)]) == 0
    assert seen and "answer model written" in capsys.readouterr().out
    model = AnswerModel.load(out)
    assert model.fitted_on["questions"] == len(ITEMS) and 0.0 < model.threshold < 1.0
