"""Installing a published model folder (downloaded or copied, verified by hash) as a prepared
model: idempotent through kiji's marker, atomic through a staging folder, like e5's conversion."""

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


def prepare_folder(dest: Path, name: str, files: Mapping[str, str],
                   populate: Callable[[Path, Any], dict[str, str]], options: Any) -> Path:
    """``populate(stage_model_dir, options)`` writes the verified files; then the marker, then the
    folder replaces ``dest`` in one rename. A non-empty ``dest`` without kiji's marker (someone's
    own model) is refused unless ``options.force``."""
    log = options.log
    dest = Path(dest).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not options.force and is_prepared(dest, name):
        log(f"model already prepared at {dest}")
        return dest
    with dir_lock(dest):
        if not options.force and is_prepared(dest, name):
            log(f"model already prepared at {dest}")
            return dest
        if not options.force and dest.is_dir() and read_marker(dest) is None and any(dest.iterdir()):
            raise ModelPrepError(f"{dest} holds files not prepared by kiji; use --force to replace them")
        remove_stale(dest)
        stage = staging_dir(dest, "partial")
        try:
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
            install_dir(out, dest)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    log(f"model ready at {dest}")
    return dest
