"""Changes to a corpus folder that stand only if the rebuild after them publishes.

``kiji index add`` / ``remove`` change the folder before the build reads it, so a failed build must
put it back: added files are deleted, removed files return, byte for byte (they are moved aside
with ``os.replace`` inside the folder, never copied). Each step is first written to a journal in
``<corpus>/.kiji-transaction/`` (hidden: the build never reads it), so a process killed midway is
undone by the next transaction or build (``recover``) instead of leaving a half change behind.

    with CorpusTransaction(folder) as tx:      # undoes a leftover transaction first
        tx.add(Path("incoming/x.txt"), "x.txt")
        tx.remove(folder / "old.txt")
        build(...)                              # raises → every step undone, journal removed
    # no exception: committed, the moved-aside files deleted
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from kiji.durable import fsync_dir, replace_text_durable
from kiji.errors import CorpusError

JOURNAL_DIR = ".kiji-transaction"
JOURNAL = "journal.json"


def _write_journal(folder: Path, steps: list[dict[str, Any]]) -> None:
    root = folder / JOURNAL_DIR
    replace_text_durable(root / JOURNAL, json.dumps({"steps": steps}), tmp=root / (JOURNAL + ".tmp"))


def _undo(folder: Path, steps: list[dict[str, Any]]) -> None:
    root = folder / JOURNAL_DIR
    for step in reversed(steps):
        target = folder / step["path"]
        if step["op"] == "add":
            target.unlink(missing_ok=True)
        elif step["op"] == "remove":
            backup = root / step["backup"]
            if backup.exists():  # else the move never happened
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(backup, target)
    for tmp in root.glob("incoming-*"):
        tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    shutil.rmtree(root)


def recover(folder: Path, log: Callable[[str], None] = lambda _: None) -> bool:
    """Undo a transaction a killed process left behind; ``True`` when there was one.

    Only call this where no other transaction can be running (under the index build lock)."""
    root = folder / JOURNAL_DIR
    if not root.is_dir():
        return False
    try:
        steps = json.loads((root / JOURNAL).read_text(encoding="utf-8"))["steps"]
        if not isinstance(steps, list):
            raise TypeError("steps")
    except FileNotFoundError:
        steps = []  # killed before the first step was journaled: nothing was changed
    except (ValueError, TypeError, KeyError):
        raise CorpusError(f"{root} holds an unreadable journal of an interrupted `kiji index add/remove`",
                          hint=f"compare the folder with `kiji index info`, then delete {root}") from None
    _undo(folder, steps)
    if steps:
        done = ", ".join(f"{step['op']} {step['path']}" for step in steps)
        log(f"undid an interrupted corpus change in {folder} ({done})")
    return True


class CorpusTransaction:
    def __init__(self, folder: Path, *, log: Callable[[str], None] = lambda _: None) -> None:
        self.folder = folder
        self.log = log
        self.steps: list[dict[str, Any]] = []
        self.root = folder / JOURNAL_DIR

    def __enter__(self) -> CorpusTransaction:
        self.folder.mkdir(parents=True, exist_ok=True)
        recover(self.folder, self.log)
        self.root.mkdir()
        return self

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.folder))

    def add(self, source: Path, name: str) -> Path:
        """Copy ``source`` into the folder as ``name`` (which must not exist yet)."""
        target = self.folder / name
        if target.exists():
            raise CorpusError(f"{target} already exists")
        # Copied beside the journal first, then renamed in: the article appears whole or not at all.
        tmp = self.root / f"incoming-{len(self.steps)}"
        shutil.copy2(source, tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        self.steps.append({"op": "add", "path": self._relative(target)})
        _write_journal(self.folder, self.steps)
        os.replace(tmp, target)
        return target

    def remove(self, path: Path) -> None:
        """Take ``path`` out of the folder (kept aside until commit)."""
        backup = f"removed-{len(self.steps)}"
        self.steps.append({"op": "remove", "path": self._relative(path), "backup": backup})
        _write_journal(self.folder, self.steps)
        os.replace(path, self.root / backup)

    def commit(self) -> None:
        shutil.rmtree(self.root)
        fsync_dir(self.folder)

    def rollback(self) -> None:
        _undo(self.folder, self.steps)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
