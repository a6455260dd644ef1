"""What kiji knows about one embedding model: one ``ModelSpec`` per module in this package.

A spec says where the weights come from and how they are verified (``prepare``), the prompts, the
dimension, the licence, how the model is exported to ONNX (``onnx_recipe``) and which fitted answer
model goes with it (``answer_model``, a file in ``kiji.retrieval.answer.fitted``). Registering a
model is one module and one line in ``registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiji.retrieval.embedding.model_files import OnnxRecipe
from kiji.retrieval.embedding.prepare.onnx_export import ExportPlan, export_onnx

Log = Callable[[str], None]


@dataclass(frozen=True)
class PrepareOptions:
    """``source``: ``None`` (the spec's own order), ``"mirror"``, ``"hub"`` or a local folder path;
    ``cache``: where downloads are kept between runs."""

    force: bool = False
    source: str | None = None
    cache: Path | None = None
    log: Log = print


@dataclass(frozen=True)
class ModelSpec:
    #: The name used in settings (``KIJI_EMBEDDING_MODEL``) and in a prepared folder's marker.
    name: str
    #: The folder under ``models/`` that ``kiji model prepare`` writes.
    folder: str
    title: str
    dim: int
    max_seq_length: int
    query_prompt: str
    passage_prompt: str
    #: One line naming the licence; ``kiji model prepare`` prints it.
    licence: str
    onnx_recipe: OnnxRecipe
    #: The fitted answer model for this model's signals (``kiji fit``), by file name.
    answer_model: str
    #: Writes a verified sentence-transformers folder at the destination and returns its path.
    prepare: Callable[[Path, PrepareOptions], Path] = field(repr=False)
    #: Serving memory measured by bench/serve_bench.py, for ``kiji model list``.
    memory: str = ""
    #: The passage prompt when the passage has a title (``{title}`` stands for it), for models
    #: trained with one; ``None``: the title is not given to the model.
    titled_passage_prompt: str | None = None


def export_plan(spec: ModelSpec) -> ExportPlan:
    """How ``kiji model prepare`` exports ``spec`` to ONNX and checks the export."""
    return ExportPlan(recipe=spec.onnx_recipe, query_prompt=spec.query_prompt,
                      passage_prompt=spec.passage_prompt, max_length=spec.max_seq_length)


def prepare_with_onnx(spec: ModelSpec, dest: Path, options: PrepareOptions, *, onnx: bool = True) -> Path:
    """The prepared, verified folder at ``dest``, with its verified ONNX export unless ``onnx`` is off."""
    path = spec.prepare(dest, options)
    if onnx:
        export_onnx(path, log=options.log, plan=export_plan(spec))
    return path
