"""The files of an index folder as files: plain ones only, read with a cap, and a published
version's binary files recorded in the manifest, read-only on disk, checked before and while they
are memory-mapped, and refused when they hold NaN or Inf.

A ``CURRENT`` that is a FIFO blocked every command, and a ``manifest.json`` linked to ``/dev/zero``
was read for ever: ``not_a_file`` / ``plain_file`` refuse directories, FIFOs, devices, sockets and
links out of the folder before anything is opened, ``read_capped`` reads a bounded number of bytes
without blocking, and ``remove_any`` lets a build or rollback replace a ``CURRENT`` of any kind.

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
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiji.errors import IndexCorrupt

_HINT = "rebuild with `kiji index build --full`, or `kiji index rollback` to the previous version"
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def not_a_file(path: Path, folder: Path) -> str | None:
    """Why ``path`` is no plain file of ``folder`` (a directory, a FIFO, a device, a symlink that
    leads out of the folder), or None. A FIFO would block every reader and ``/dev/zero`` would be
    read for ever: damage, named like any other. ``FileNotFoundError`` when there is nothing."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        target = path.resolve()
        if not target.is_relative_to(folder.resolve()):
            return f"a symbolic link out of {folder.name}/ (to {target})"
        mode = target.stat().st_mode
    if stat.S_ISREG(mode):
        return None
    kind = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISCHR: "a device",
            stat.S_ISBLK: "a device", stat.S_ISSOCK: "a socket"}
    return next((what for test, what in kind.items() if test(mode)), "not a regular file")


def read_capped(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file; opened without blocking (a FIFO swapped in
    after ``not_a_file`` looked is refused by the ``fstat`` here, not waited on)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(0, "not a regular file", str(path))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit + 1)
    finally:
        os.close(fd)


def remove_any(path: Path) -> None:
    """Remove whatever is at ``path`` (a file, a link, a FIFO, a directory), if anything."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


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


def plain_file(version: Path, name: str, what: str) -> None:
    """``IndexCorrupt`` when a version's file is a directory, a FIFO, a device or a link out of the
    version folder (``manifest.json`` linked to ``/dev/zero`` was read for ever)."""
    problem = not_a_file(version / name, version)
    if problem:
        raise IndexCorrupt(f"the {what} ({name}) of index version {version.name} is {problem}",
                           hint=_HINT)


def load_array(path: Path, file: str, dtype: type, shape: tuple[int, ...], mmap: bool) -> np.ndarray:
    """One .npy file of a version, of the dtype and shape the chunk table implies."""
    try:
        array = np.load(path / file, mmap_mode="r" if mmap else None)
    except FileNotFoundError:
        raise IndexCorrupt(f"the sentence vectors are missing from index version {path.name} ({file})",
                           hint=_HINT) from None
    except (ValueError, OSError, EOFError):
        raise IndexCorrupt(f"the sentence vectors ({file}) of index version {path.name} are damaged",
                           hint=_HINT) from None
    if not isinstance(array, np.ndarray) or array.dtype != dtype:
        raise IndexCorrupt(f"the sentence vectors ({file}) of index version {path.name} are damaged "
                           f"(not a {np.dtype(dtype).name} array)", hint=_HINT)
    if array.shape != shape:
        what = "sentence vectors" if len(shape) == 2 else "sentence vector scales"
        dims = f" of dimension {shape[1]}" if len(shape) == 2 else ""
        raise IndexCorrupt(f"index version {path.name}: {what} of shape {array.shape} "
                           f"for {shape[0]} sentences{dims}", hint=_HINT)
    if array.dtype.kind == "f" and not all(np.isfinite(array[i:i + 65_536]).all()
                                           for i in range(0, len(array), 65_536)):
        # NaN scores sort anywhere and drop every quote: an "answered" reply with none.
        raise IndexCorrupt(f"the sentence vectors ({file}) of index version {path.name} hold NaN or "
                           "infinite values", hint=_HINT)
    return array
