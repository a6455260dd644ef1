"""`kiji index build|info|rollback|add|remove` through the CLI entry point, on FakeEmbedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiji import cli
from kiji.cli import resources
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.store import (
    CHUNKS,
    VERSIONS,
    current_version,
    load_current,
)
from tests.helpers import article_text

pytestmark = pytest.mark.usefixtures("isolated_env")


# --- CLI -------------------------------------------------------------------------------------------

@pytest.fixture()
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "embedder", lambda settings: FakeEmbedder())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_build_info_rollback(tmp_path: Path, corpus: Path, fake_cli: None,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = tmp_path / "index"
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    code, out, err = _run(capsys, "index", "info", *where)
    assert code == 3 and "no index found" in err

    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    code, out, err = _run(capsys, "index", "build", *where)
    assert code == 0, err
    assert "6 articles" in out and "6 added" in out
    assert "skipped: broken.txt: binary file, not text" in out

    code, out, err = _run(capsys, "index", "build", "--json", *where)
    assert code == 0
    summary = json.loads(out)
    assert summary["embedded_chunks"] == 0 and len(summary["unchanged"]) == 6
    assert summary["skipped"] == ["broken.txt: binary file, not text"]

    code, out, _ = _run(capsys, "index", "build", "--full", "--json", *where)
    assert code == 0 and json.loads(out)["reused_chunks"] == 0

    code, out, _ = _run(capsys, "index", "info", "--json", *where)
    assert code == 0
    info = json.loads(out)
    names = [v["version"] for v in info["versions"]]
    assert len(names) == 3 and names == sorted(names) and info["current"] == names[-1]
    assert [v["current"] for v in info["versions"]] == [False, False, True]
    newest = info["versions"][-1]
    assert newest["ok"] and newest["articles"] == 6 and newest["model"]["fingerprint"] == "fake-256-v1"
    assert newest["model"]["dim"] == 256 and newest["index"]["kind"] == "flat"

    code, out, _ = _run(capsys, "index", "rollback", *where)
    assert code == 0 and names[1] in out and current_version(index_dir) == names[1]

    # A damaged version is shown as such, not hidden; serving it fails with exit 3 and the cause.
    (index_dir / VERSIONS / names[1] / CHUNKS).unlink()
    code, out, _ = _run(capsys, "index", "info", *where)
    assert code == 0 and f"* {names[1]}  DAMAGED:" in out and "chunks.jsonl" in out
    code, _, err = _run(capsys, "ask", "solar panels", *where)
    assert code == 3 and "chunks.jsonl" in err and "rollback" in err
    code, out, _ = _run(capsys, "index", "rollback", *where)
    assert code == 0 and current_version(index_dir) == names[0]
    code, _, err = _run(capsys, "index", "rollback", *where)
    assert code == 5 and "no older index version" in err


def test_cli_build_fails_when_nothing_indexable(tmp_path: Path, fake_cli: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_text("")
    (corpus / "bad.jsonl").write_text("nope\n")
    code, out, err = _run(capsys, "index", "build", "--corpus", str(corpus), "--index-dir", str(tmp_path / "i"))
    assert code == 5 and out == ""
    assert "nothing could be indexed" in err and "empty.txt" in err and "bad.jsonl" in err
    code, _, err = _run(capsys, "index", "build", "--corpus", str(tmp_path / "nope"), "--index-dir",
                        str(tmp_path / "i"))
    assert code != 0 and "corpus path not found" in err


def test_cli_add_and_remove(tmp_path: Path, corpus: Path, fake_cli: None,
                            capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = tmp_path / "index"
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    assert _run(capsys, "index", "build", *where)[0] == 0

    new = tmp_path / "incoming" / "robots.txt"
    new.parent.mkdir()
    new.write_text(article_text("Tea ceremony robots", [
        "A start-up in Uji built a robot arm that whisks matcha tea.",
        "Tea masters said the foam was acceptable but the bowl was turned the wrong way.",
        "The robot will serve visitors at a museum from April."]), encoding="utf-8")
    code, out, err = _run(capsys, "index", "add", str(new), "--json", *where)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["added"] == ["robots"] and len(summary["unchanged"]) == 6
    assert (corpus / "robots.txt").is_file() and "robots" in load_current(index_dir).articles

    broken = tmp_path / "incoming" / "broken.txt"
    broken.write_bytes(b"\x00binary")
    code, _, err = _run(capsys, "index", "add", str(broken), *where)
    assert code != 0 and "binary file" in err and not (corpus / "broken.txt").exists()

    code, out, err = _run(capsys, "index", "remove", "syn1", "--json", *where)
    assert code == 0, err
    assert json.loads(out)["removed"] == ["syn1"] and not (corpus / "syn1.txt").exists()
    assert "syn1" not in load_current(index_dir).articles

    code, _, err = _run(capsys, "index", "remove", "no-such-article", *where)
    assert code == 2 and "no article with id 'no-such-article'" in err


def test_cli_build_if_changed(tmp_path: Path, corpus: Path, fake_cli: None,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """What scripts/setup.sh runs: a second setup on an unchanged corpus publishes nothing."""
    where = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    code, out, err = _run(capsys, "index", "build", "--if-changed", *where)
    assert code == 0 and out.startswith("published index version"), err
    version = out.split()[3].rstrip(":")
    code, out, _ = _run(capsys, "index", "build", "--if-changed", "--json", *where)
    summary = json.loads(out)
    assert code == 0 and summary["published"] is False and summary["version"] == version
    code, out, _ = _run(capsys, "index", "build", "--if-changed", *where)
    assert out.strip() == f"index version {version} is up to date: 6 articles, {summary['chunks']} chunks; nothing published"


def test_cli_refuses_to_edit_the_shipped_corpus_of_an_installed_kiji(
        tmp_path: Path, fake_cli: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("kiji.settings.checkout_root", lambda: None)
    article = tmp_path / "new.txt"
    article.write_text("A title\n\nSome text about something.\n", encoding="utf-8")
    code, _, err = _run(capsys, "index", "add", str(article), "--index-dir", str(tmp_path / "index"))
    assert code == 2 and "KIJI_CORPUS_DIR" in err
    code, _, err = _run(capsys, "index", "remove", "000_c3040fd4d25ddece", "--index-dir", str(tmp_path / "i"))
    assert code == 2 and "shipped corpus" in err
