"""The index folder's versions: one build at a time (a lock), leftovers of a crashed build removed,
old versions pruned, and rollback to the newest older version that loads."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from kiji.errors import BuildError, BuildLocked, IndexCorrupt, IndexUnavailable
from kiji.retrieval.index.store import (
    CURRENT_TMP,
    VERSIONS,
    current_version,
    list_versions,
    load_version,
    publish,
)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    fh = (index_dir / ".build.lock").open("a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildLocked(f"another index build is running on {index_dir}",
                              hint="wait for it to finish; nothing was changed") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()  # closing releases the flock, also when the process is killed


def clean_leftovers(index_dir: Path) -> list[str]:
    """Remove half-written versions from a build that crashed (only ever called under the lock)."""
    removed = []
    root = index_dir / VERSIONS
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith("tmp-"):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    tmp_current = index_dir / CURRENT_TMP
    if tmp_current.exists():
        tmp_current.unlink()
    return removed


def prune_versions(index_dir: Path, keep: int) -> list[str]:
    current = current_version(index_dir)
    versions = list_versions(index_dir)
    doomed = [v for v in versions[:-keep] if v != current] if len(versions) > keep else []
    for name in doomed:
        shutil.rmtree(index_dir / VERSIONS / name, ignore_errors=True)
    return doomed


def new_version_name() -> str:
    # Sortable by time; the pid keeps two hosts' builds in one folder from colliding.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"


def rollback(index_dir: Path, *, log: Callable[[str], None] = lambda _: None) -> str:
    """Point CURRENT at the newest version older than the current one that loads; older versions
    that do not load are skipped and named. With a damaged CURRENT (or none), "older" is every
    version: the newest good one is served again."""
    with build_lock(index_dir):
        versions = list_versions(index_dir)
        try:
            current = current_version(index_dir)
        except IndexCorrupt as exc:
            log(f"{exc.message}; replacing it")
            current = None
        if current is not None and current not in versions:
            log(f"CURRENT names index version {current}, which does not exist; replacing it")
            current = None
        older = [v for v in versions if current is None or v < current]
        skipped: list[str] = []
        for target in reversed(older):
            try:
                load_version(index_dir / VERSIONS / target)  # never roll back onto a damaged version
            except IndexUnavailable as exc:
                skipped.append(exc.message)
                log(f"skipped {target}: {exc.message}")
                continue
            publish(index_dir, target)
            return target
        if skipped:
            raise BuildError(f"no older index version loads ({'; '.join(skipped)})",
                             hint="`kiji index build` publishes a new one; nothing was changed")
        raise BuildError("no older index version to roll back to")
