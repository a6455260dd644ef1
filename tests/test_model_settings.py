"""Which embedding model the settings name: registry names, the default, the fallback, a user's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiji.retrieval.answer.model import AnswerModel
from kiji.retrieval.embedding.model_files import MARKER_FILE
from kiji.retrieval.embedding.models import registry
from kiji.runtime import answer_model, embedder_config
from kiji.settings import Settings

GEMMA, E5 = registry.MODELS["embeddinggemma-300m"], registry.MODELS["multilingual-e5-small"]


def _mark_prepared(home: Path, folder: str) -> None:
    (home / "models" / folder).mkdir(parents=True)
    (home / "models" / folder / MARKER_FILE).write_text("{}", encoding="utf-8")


def test_unset_means_the_default_and_names_select(tmp_path: Path) -> None:
    default = registry.MODELS[registry.DEFAULT]
    assert Settings(home=tmp_path).model_spec is default
    assert Settings(home=tmp_path).model_dir == tmp_path / "models" / default.folder
    assert Settings(home=tmp_path, embedding_model="embeddinggemma").model_spec is GEMMA
    assert Settings(home=tmp_path, embedding_model="multilingual-e5-small").model_spec is E5
    assert Settings(home=tmp_path, embedding_model="e5-small").model_name == str(tmp_path / "models" / E5.folder)
    # A prepared folder named by path is still that known model (its fitted answer model applies).
    assert Settings(home=tmp_path, embedding_model=str(tmp_path / "models" / E5.folder)).model_spec is E5


def test_only_the_fallback_prepared_serves_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "DEFAULT", GEMMA.name)  # as when the default is the large model
    _mark_prepared(tmp_path, E5.folder)
    assert Settings(home=tmp_path).model_spec is E5
    _mark_prepared(tmp_path, GEMMA.folder)
    assert Settings(home=tmp_path).model_spec is GEMMA
    # An explicit name is never swapped.
    assert Settings(home=tmp_path, embedding_model="multilingual-e5-small").model_spec is E5


def test_a_users_own_model_is_loaded_by_sentence_transformers(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, embedding_model="intfloat/multilingual-e5-base")
    assert settings.model_spec is None and not settings.uses_default_model
    assert settings.model_name == "intfloat/multilingual-e5-base"
    assert answer_model(settings) == AnswerModel.shipped(registry.MODELS[registry.DEFAULT])


def test_each_model_has_its_own_fitted_answer_model_and_token_limit(tmp_path: Path) -> None:
    gemma, e5 = AnswerModel.shipped(GEMMA), AnswerModel.shipped(E5)
    assert gemma.fitted_on != e5.fitted_on or gemma.ranker != e5.ranker
    assert answer_model(Settings(home=tmp_path, embedding_model="e5")) == e5
    assert answer_model(Settings(home=tmp_path, embedding_model="gemma")) == gemma
    assert embedder_config(Settings(home=tmp_path, embedding_model="gemma")).max_length == GEMMA.max_seq_length


def test_unknown_model_name_for_prepare_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiji.cli.app import main

    monkeypatch.setenv("KIJI_HOME", str(tmp_path))
    assert main(["model", "prepare", "no-such-model"]) == 2
    assert not (tmp_path / "models").exists()
