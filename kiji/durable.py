"""Writes that survive a power cut: the file's bytes, then the folder entry that names it.

A leaf like ``kiji.errors``: the corpus's transaction journal and the index's versions and ``CURRENT``
pointer both publish by write, fsync, rename, fsync the folder, and import these from here because
neither layer may import the other's.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable (POSIX records it in the folder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_durable(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 and fsync it before returning."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def replace_text_durable(path: Path, text: str, *, tmp: Path) -> None:
    """Make ``path`` hold ``text``, all or nothing: written whole to ``tmp`` (in the same folder)
    and fsynced, renamed over ``path``, the rename made durable. A reader sees the old text or the
    new, never a part; a crash leaves at most ``tmp`` behind."""
    write_text_durable(tmp, text)
    os.replace(tmp, path)
    fsync_dir(path.parent)
