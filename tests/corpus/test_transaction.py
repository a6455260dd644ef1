"""CorpusTransaction: changes undone on failure (bytes and timestamps), kept on success, and a
transaction left by a killed process undone by the next one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiji.corpus.transaction import JOURNAL, JOURNAL_DIR, CorpusTransaction, recover
from kiji.errors import CorpusError


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every entry with its bytes and, for files, its modification time (a folder's own time
    changes with its entries, whatever is done)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file()
            else (b"<dir>", 0) for p in sorted(folder.rglob("*"))}


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_bytes(b"alpha\xe3\x81\x82\n")
    (corpus / "sub" / "b.md").write_bytes(b"# beta\n")
    os.utime(corpus / "a.txt", ns=(1_000_000_000, 1_000_000_000))
    return corpus


def test_a_failure_undoes_every_step(folder: Path, tmp_path: Path) -> None:
    before = state(folder)
    incoming = tmp_path / "c.txt"
    incoming.write_text("gamma")
    with pytest.raises(RuntimeError):
        with CorpusTransaction(folder) as tx:
            tx.remove(folder / "a.txt")
            tx.remove(folder / "sub" / "b.md")
            tx.add(incoming, "c.txt")
            tx.add(incoming, "a.txt")  # the name a removed file had
            assert (folder / "c.txt").read_text() == "gamma" and not (folder / "sub" / "b.md").exists()
            raise RuntimeError("the build failed")
    assert state(folder) == before  # same bytes, same timestamps, no journal left


def test_success_keeps_the_changes_and_nothing_else(folder: Path, tmp_path: Path) -> None:
    incoming = tmp_path / "c.txt"
    incoming.write_text("gamma")
    with CorpusTransaction(folder) as tx:
        tx.remove(folder / "a.txt")
        tx.add(incoming, "c.txt")
    assert sorted(state(folder)) == ["c.txt", "sub", "sub/b.md"]


def test_adding_over_an_existing_name_is_refused(folder: Path, tmp_path: Path) -> None:
    before = state(folder)
    with pytest.raises(CorpusError, match="already exists"):
        with CorpusTransaction(folder) as tx:
            tx.add(folder / "sub" / "b.md", "a.txt")
    assert state(folder) == before


def test_a_killed_transaction_is_undone_by_the_next(folder: Path, tmp_path: Path) -> None:
    before = state(folder)
    incoming = tmp_path / "c.txt"
    incoming.write_text("gamma")
    tx = CorpusTransaction(folder).__enter__()  # and never left: the process "died" here
    tx.remove(folder / "a.txt")
    tx.add(incoming, "c.txt")
    logged: list[str] = []
    with CorpusTransaction(folder, log=logged.append):
        pass
    assert state(folder) == before
    assert logged and "remove a.txt" in logged[0] and "add c.txt" in logged[0]
    assert recover(folder) is False  # nothing left to undo


def test_an_unreadable_journal_is_named_not_guessed(folder: Path) -> None:
    (folder / JOURNAL_DIR).mkdir()
    (folder / JOURNAL_DIR / JOURNAL).write_text("{not json")
    with pytest.raises(CorpusError, match="unreadable journal"):
        recover(folder)
    assert (folder / "a.txt").exists()
