"""A published version's binary files: their sizes in the manifest, read-only on disk, and checked
before and while they are memory-mapped.

With ``KIJI_INDEX_MMAP=true`` the vectors are pages of the files themselves, so a file truncated in
place while it is served (``truncate -s 1000 sentences.npy``) makes the next read of a page past the
new end a SIGBUS, which kills the server. Published files are meant to be immutable; three things
make that true in practice:

* ``freeze`` makes every file of a version read-only (0444) once it is written, so the owner's own
  slip (an editor, ``truncate``, a copy over it) is refused by the system;
* the manifest records each binary file's size (``files``), and ``check_sizes`` refuses a version
  whose file disagrees before anything is read or served (``IndexCorrupt``: the server keeps the
  version it serves; numpy and FAISS themselves refuse to map a file shorter than its header says);
* ``MappedFiles.check`` stats the mapped files before every search (~2 µs for three files) and
  turns a file that changed under the server into ``IndexCorrupt`` (a 503 for that request, and the
  watcher's next reload is refused) instead of a SIGBUS. Only a truncation that lands in the
  microseconds between that check and the read can still fault; root can write a 0444 file, so
  this check is the guard that holds for root too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiji.errors import IndexCorrupt

_HINT = "rebuild with `kiji index build --full`, or `kiji index rollback` to the previous version"
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def sizes_of(path: Path, names: Iterable[str]) -> dict[str, int]:
    """The size of each named file of a version folder that exists (for the manifest's ``files``)."""
    return {name: (path / name).stat().st_size for name in names if (path / name).is_file()}


def freeze(path: Path) -> None:
    """Make every file of a written version read-only: published files never change."""
    for child in path.iterdir():
        if child.is_file() and not child.is_symlink():
            child.chmod(_READ_ONLY)


def check_sizes(path: Path, files: Mapping[str, object]) -> None:
    """Refuse a version whose binary files are not the size its manifest records (before mapping)."""
    for name, expected in files.items():
        if not isinstance(expected, int):
            continue
        try:
            found = (path / name).stat().st_size
        except FileNotFoundError:
            continue  # a missing file is named by the loader, with its own message
        except OSError as exc:
            raise IndexCorrupt(f"{name} of index version {path.name} cannot be read ({exc.strerror})",
                               hint=_HINT) from None
        if found != expected:
            raise IndexCorrupt(f"{name} of index version {path.name} is damaged: {found:,} bytes, "
                               f"the manifest says {expected:,}", hint=_HINT)


@dataclass(frozen=True, slots=True)
class MappedFiles:
    """The files a version maps, with the size and inode each had when it was loaded."""

    version: str
    files: tuple[tuple[Path, int, int], ...] = ()

    @classmethod
    def of(cls, path: Path, names: Iterable[str]) -> MappedFiles:
        found = []
        for name in names:
            st = (path / name).stat()
            found.append((path / name, st.st_size, st.st_ino))
        return cls(path.name, tuple(found))

    def check(self) -> None:
        """``IndexCorrupt`` when a mapped file was truncated, replaced or removed since loading."""
        for file, size, inode in self.files:
            try:
                st = os.stat(file)
            except OSError:
                st = None
            if st is None or st.st_size != size or st.st_ino != inode:
                now = "removed" if st is None else f"{st.st_size:,} bytes (was {size:,})"
                raise IndexCorrupt(f"{file.name} of the served index version {self.version} changed "
                                   f"while it was mapped: {now}; it is no longer read", hint=_HINT)
