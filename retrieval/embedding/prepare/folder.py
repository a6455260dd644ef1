"""How a prepared model reaches ``models/``: ``install_prepared`` (idempotent through kiji's
marker, atomic through a staging folder) for e5's conversion and for published folders, which
``prepare_folder`` downloads or copies, verifies by hash and marks."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kiji.retrieval.embedding.model_files import (
    MARKER_FILE,
    ModelPrepError,
    read_marker,
    weights_fingerprint,
)
from kiji.retrieval.embedding.prepare.staging import (
    dir_lock,
    install_dir,
    make_readable,
    remove_stale,
    staging_dir,
    write_json,
)

MARKER_FORMAT = 2


def is_prepared(dest: Path, name: str) -> bool:
    marker = read_marker(dest)
    if not marker or marker.get("format") != MARKER_FORMAT or marker.get("model") != name:
        return False
    try:  # reads the weights once (~1 s a GB): catches a truncated or hand-edited copy
        return weights_fingerprint(dest) == marker.get("weights_fingerprint")
    except ModelPrepError:
        return False


def install_prepared(dest: Path, *, force: bool, log: Callable[[str], None],
                     is_current: Callable[[Path], bool], build: Callable[[Path], Path]) -> Path:
    """The one way a prepared model reaches ``dest``: idempotent (``is_current`` short-circuits,
    checked again under the lock in case another process finished meanwhile) and atomic
    (``build(stage)`` returns a finished folder inside the sibling staging folder ``stage``, which
    replaces ``dest`` in one rename, so a failed or interrupted run leaves nothing half-written). A
    non-empty ``dest`` without kiji's marker (someone's own model) is refused unless ``force``."""
    dest = Path(dest).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not force and is_current(dest):
        log(f"model already prepared at {dest}")
        return dest
    with dir_lock(dest):
        if not force and is_current(dest):
            log(f"model already prepared at {dest}")
            return dest
        if not force and dest.is_dir() and read_marker(dest) is None and any(dest.iterdir()):
            raise ModelPrepError(f"{dest} holds files not prepared by kiji; use --force to replace them")
        remove_stale(dest)
        stage = staging_dir(dest, "partial")
        try:
            install_dir(build(stage), dest)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    log(f"model ready at {dest}")
    return dest


def prepare_folder(dest: Path, name: str, files: Mapping[str, str],
                   populate: Callable[[Path, Any], dict[str, str]], options: Any) -> Path:
    """``populate(stage_model_dir, options)`` writes the verified files; then kiji's marker."""

    def build(stage: Path) -> Path:
        stage.mkdir()
        started = time.perf_counter()
        out = stage / "model"
        source = populate(out, options)
        write_json(out / MARKER_FILE, {
            "format": MARKER_FORMAT, "model": name, **source,
            "verified_files": len(files),
            "weights_fingerprint": weights_fingerprint(out),
            "seconds": round(time.perf_counter() - started, 1),
        })
        make_readable(out)
        return out

    return install_prepared(dest, force=options.force, log=options.log,
                            is_current=lambda d: is_prepared(d, name), build=build)
