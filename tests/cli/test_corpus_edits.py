"""Issue 12, case 4, through the real ``kiji`` script: ``index add`` / ``index remove`` change the
corpus folder only if the rebuild publishes, a per-article size limit, and ids already taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiji.retrieval.index.store import current_version, load_current
from tests.cli.fault_walk import ARTICLES
from tests.helpers import corpus_and_index
from tests.kiji_cli import Run, kiji

FIFTY_MB = 50_000_000


@pytest.fixture()
def site(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    return corpus_and_index(tmp_path, ARTICLES)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every entry under ``folder`` (hidden ones too) with its bytes and mode."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else b"<dir>", p.stat().st_mode)
            for p in sorted(folder.rglob("*"))}


def big_article(path: Path, size: int = FIFTY_MB) -> Path:
    line = "TSMCは4.5%下落した。半導体株が売られた。\n".encode()
    with path.open("wb") as fh:
        for _ in range(size // len(line) + 1):
            fh.write(line)
    return path


def one_line(run: Run, status: int, *needles: str) -> None:
    assert run.code == status, (run.code, run.err)
    assert len(run.err_lines) == 1 and run.err.startswith("kiji: error: "), run.err
    for needle in needles:
        assert needle in run.err, (needle, run.err)


def test_an_oversized_article_is_refused_before_it_enters(site: tuple[Path, Path, list[str]],
                                                          tmp_path: Path) -> None:
    corpus, index_dir, where = site
    before, served = snapshot(corpus), current_version(index_dir)
    big = big_article(tmp_path / "big.txt")
    run = kiji("index", "add", big, *where, timeout=60)
    one_line(run, 6, "big.txt", "50.0 MB", "KIJI_MAX_ARTICLE_BYTES")
    assert snapshot(corpus) == before and current_version(index_dir) == served

    small = tmp_path / "incoming" / "small.txt"
    small.parent.mkdir()
    small.write_text(ARTICLES["chips.txt"].replace("半導体", "電池") * 8, encoding="utf-8")  # ~2 KB
    one_line(kiji("index", "add", small, *where, env={"KIJI_MAX_ARTICLE_BYTES": "1000"}), 6, "small.txt",
             "over the limit of 1,000 bytes")
    assert kiji("index", "add", small, *where).code == 0  # the default limit (5 MB) lets it in


def test_an_oversized_file_in_the_folder_is_skipped_not_fatal(site: tuple[Path, Path, list[str]]) -> None:
    corpus, index_dir, where = site
    big_article(corpus / "big.txt")  # put there by hand, past `index add`
    # An unrelated remove: it used to delete its file, then die rebuilding over the big one.
    run = kiji("index", "remove", "deepseek", "--json", *where, timeout=60)
    assert run.code == 0, run.err
    summary = json.loads(run.out)
    assert summary["removed"] == ["deepseek"] and summary["articles"] == 1
    assert any(s.startswith("big.txt: 50.0 MB, over the limit") for s in summary["skipped"])
    assert not (corpus / "deepseek.txt").exists()
    assert set(load_current(index_dir).articles) == {"chips"}


def test_a_failed_rebuild_leaves_the_corpus_byte_for_byte(site: tuple[Path, Path, list[str]],
                                                          tmp_path: Path) -> None:
    corpus, index_dir, where = site
    (corpus / "notes.md").write_bytes(b"")  # unreadable: skipped by every build
    before, served = snapshot(corpus), current_version(index_dir)

    # Removing the article whose rebuild cannot publish (nothing left to index): restored.
    assert kiji("index", "remove", "deepseek", *where).code == 0
    after_first = snapshot(corpus)
    run = kiji("index", "remove", "chips", *where)
    one_line(run, 5, "nothing could be indexed", "the corpus folder is as it was")
    assert snapshot(corpus) == after_first

    # Adding while the index folder cannot take a new version (its versions/ is a file): restored.
    blocked = tmp_path / "blocked-index"
    blocked.mkdir()
    (blocked / "versions").write_text("not a folder")
    incoming = tmp_path / "incoming" / "new.txt"
    incoming.parent.mkdir()
    incoming.write_text(ARTICLES["deepseek.txt"].replace("DeepSeek", "Qwen"), encoding="utf-8")
    run = kiji("index", "add", incoming, "--corpus", str(corpus), "--index-dir", str(blocked))
    one_line(run, 9, "versions", "the corpus folder is as it was")
    assert snapshot(corpus) == after_first
    assert before.keys() - after_first.keys() == {"deepseek.txt"}  # only the remove that published
    assert current_version(index_dir) != served


def test_adding_a_file_that_is_already_in_the_corpus(site: tuple[Path, Path, list[str]]) -> None:
    corpus, index_dir, where = site
    before = snapshot(corpus)
    run = kiji("index", "add", corpus / "deepseek.txt", *where)
    one_line(run, 6, "'deepseek'", "already in the corpus folder", "--replace")
    assert snapshot(corpus) == before
    run = kiji("index", "add", corpus / "deepseek.txt", "--replace", "--json", *where)
    assert run.code == 0, run.err
    assert snapshot(corpus) == before and json.loads(run.out)["unchanged"] == ["chips", "deepseek"]


def test_an_id_that_exists_is_refused_unless_replace(site: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    corpus, index_dir, where = site
    before = snapshot(corpus)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    markdown = incoming / "deepseek.md"  # same id as deepseek.txt
    markdown.write_text("# DeepSeekの近況\n\nDeepSeekは新しいモデルを公開した。従業員は300人に増えた。\n",
                        encoding="utf-8")
    one_line(kiji("index", "add", markdown, *where), 6, "'deepseek'", "deepseek.txt", "--replace")
    records = incoming / "more.jsonl"  # a record with a taken id
    records.write_text(json.dumps({"id": "chips", "title": "x", "text": "半導体の話。" * 5}) + "\n")
    one_line(kiji("index", "add", records, *where), 6, "'chips'", "chips.txt")
    assert snapshot(corpus) == before

    run = kiji("index", "add", markdown, "--replace", "--json", *where)
    assert run.code == 0, run.err
    assert json.loads(run.out)["changed"] == ["deepseek"]
    assert not (corpus / "deepseek.txt").exists() and (corpus / "deepseek.md").read_bytes() == markdown.read_bytes()
    assert "300人" in load_current(index_dir).articles["deepseek"].text
    assert not (corpus / ".kiji-transaction").exists()


def test_an_interrupted_change_is_undone_by_the_next_build(site: tuple[Path, Path, list[str]],
                                                            tmp_path: Path) -> None:
    """A process killed between changing the folder and publishing leaves a journal behind; the
    next build puts the folder back before reading it (and says so)."""
    import subprocess
    import sys

    corpus, index_dir, where = site
    before = snapshot(corpus)
    incoming = tmp_path / "new.txt"
    incoming.write_text(ARTICLES["chips.txt"].replace("半導体", "電池"), encoding="utf-8")
    script = (
        "import os, sys\nfrom pathlib import Path\n"
        "from kiji.corpus.transaction import CorpusTransaction\n"
        "tx = CorpusTransaction(Path(sys.argv[1])).__enter__()\n"
        "tx.remove(Path(sys.argv[1]) / 'deepseek.txt')\n"
        "tx.add(Path(sys.argv[2]), 'new.txt')\n"
        "os._exit(9)  # killed before the build published\n")
    killed = subprocess.run([sys.executable, "-c", script, str(corpus), str(incoming)], timeout=60)
    assert killed.returncode == 9 and (corpus / "new.txt").exists() and not (corpus / "deepseek.txt").exists()
    run = kiji("index", "build", "--json", *where)
    assert run.code == 0, run.err
    assert "undid an interrupted corpus change" in run.err
    assert snapshot(corpus) == before
    assert set(load_current(index_dir).articles) == {"chips", "deepseek"}
