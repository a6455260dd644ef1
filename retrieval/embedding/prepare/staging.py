"""Atomic folder replacement for the prepared model and its ONNX export: work happens in a sibling
folder under a lock, and replaces the target only when complete, so an interrupted or failed run
never leaves a half-written model where the application would load it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # Advisory locking keeps a setup script and a test run from converting at the same time.
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms simply skip the lock
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def dir_lock(target: Path) -> Iterator[None]:
    lock_path = target.parent / f".{target.name}.lock"
    if fcntl is None:
        yield
        return
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def staging_dir(target: Path, tag: str) -> Path:
    # A sibling on the same filesystem, so the final rename is atomic.
    return target.parent / f".{target.name}.{tag}-{uuid.uuid4().hex[:8]}"


def remove_stale(target: Path) -> None:
    """Delete staging/old siblings a killed run left behind; only call while holding the lock."""
    for tag in ("partial", "old"):
        for leftover in target.parent.glob(f".{target.name}.{tag}-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def install_dir(staged: Path, target: Path) -> None:
    """Move a finished directory into place, swapping out an old one only at the last moment."""
    old: Path | None = None
    if target.exists():
        old = staging_dir(target, "old")
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def make_readable(root: Path) -> None:
    """transformers writes weights via 0600 temp files; the service may run as another user."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
