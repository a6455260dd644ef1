"""``RenderedLatin`` renders only the few Latin words a katakana word may spell, once each."""

from __future__ import annotations

from kiji.retrieval.lexical.rendered import RenderedLatin

RENDERINGS = {"apple": "アップル", "google": "グーグル", "oracle": "オラクル", "ample": "アンプル",
              "theatre": "シアター", "castle": "キャッスル", "people": "ピープル",
              "billion": "ビリオン"}
FILLER = [f"word{c}{d}" for c in "bdfgkmnprstvz" for d in "bdfgkmnprstvz"]  # no kana spelling


def _index(per_lookup: int = 80) -> tuple[RenderedLatin, list[str]]:
    calls: list[str] = []

    def render(word: str) -> str:
        calls.append(word)
        return RENDERINGS.get(word, "ワード")

    return RenderedLatin([*RENDERINGS, *FILLER], render, per_lookup=per_lookup), calls


def test_finds_the_word_rendering_only_a_few() -> None:
    index, calls = _index(per_lookup=5)
    assert index.word_for("アップル") == "apple"
    assert 0 < len(calls) <= 5
    assert index.word_for("グーグル") == "google"
    assert index.word_for("オラクル") == "oracle"


def test_one_kana_away_for_longer_words_only() -> None:
    index, _ = _index()
    assert index.word_for("キャッスルー") == "castle"  # long marks are not spelling
    assert index.word_for("キャッスス") == "castle"  # one kana away, five kana
    assert index.word_for("トヨタ") is None
    assert index.word_for("キャスル") == "castle"  # one kana dropped, four kana
    assert index.word_for("ビリオン") == "billion"
    assert index.word_for("ミリオン") is None  # one kana replaced in four: another word


def test_answers_are_cached() -> None:
    index, calls = _index()
    assert index.word_for("シアター") == "theatre"
    n = len(calls)
    assert index.word_for("シアター") == "theatre"
    assert len(calls) == n


def test_candidates_share_the_consonants() -> None:
    index, _ = _index()
    found = index.candidates("アップル")
    assert "apple" in found and "ample" in found
    assert not any(w.startswith("word") for w in found[:2])
