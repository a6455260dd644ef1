"""Exporting the prepared model to ONNX (fp32, and an int8 variant) for the onnxruntime path,
verified against sentence-transformers on the check texts before it is installed.

Two recipes (``ModelSpec.onnx_recipe``):
- ``token`` (e5-small's BERT): the TorchScript exporter, the graph returns token states and the
  encoder pools them in numpy; int8 is dynamic per-channel MatMul + Gather (min cosine 0.995).
- ``pipeline`` (EmbeddingGemma): the TorchScript exporter fails on Gemma 3 (``unordered_map::at``),
  so the dynamo exporter (opset 18, needs onnxscript) exports the whole sentence-transformers
  pipeline, pooling, both Dense layers and normalisation included: the graph returns the sentence
  vector. Measured: 59 s, cosine 0.9999999 to sentence-transformers, 66 ms a query on one thread.
  Its int8 variant stores the token-embedding table (201M of the 308M parameters) as int8 rows and
  the MatMul weights as 8-bit blocks: 66 -> 41 ms a query, RSS ~2.6 -> ~1.1 GB, cosine 0.9987
  (figures in ``_quantize``).
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiji.retrieval.embedding.model_files import (
    ONNX_DIR,
    ONNX_FILES,
    ONNX_MARKER_FILE,
    ONNX_MATCH_COSINE,
    ModelPrepError,
    OnnxRecipe,
    read_marker,
    weights_fingerprint,
)
from kiji.retrieval.embedding.onnx_encoder import OnnxEncoder
from kiji.retrieval.embedding.prepare.spec import CHECK_TEXTS, PROMPTS
from kiji.retrieval.embedding.prepare.staging import (
    dir_lock,
    install_dir,
    make_readable,
    remove_stale,
    staging_dir,
    write_json,
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class ExportPlan:
    """How to export one model and check the export: its recipe, prompts and token limit."""

    recipe: OnnxRecipe = "token"
    query_prompt: str = PROMPTS["query"]
    passage_prompt: str = PROMPTS["passage"]
    max_length: int = 512

    @property
    def recipe_id(self) -> str:
        return _RECIPE_IDS[self.recipe]


def export_onnx(model_dir: str | Path, *, force: bool = False, log: Log = print,
                plan: ExportPlan | None = None) -> dict[str, Any]:
    """Export fp32 and int8 ONNX copies for the onnxruntime path, verified against torch.

    Uses ``torch.onnx.export`` directly: sentence-transformers' ONNX backend needs optimum-onnx,
    whose only release conflicts with transformers >= 5.  Idempotent through a marker holding
    the source weights fingerprint; atomic like ``prepare_default_model``.
    """
    plan = plan or ExportPlan()
    model_dir = Path(model_dir).resolve()
    onnx_dir = model_dir / ONNX_DIR
    fingerprint = weights_fingerprint(model_dir)
    cached = None if force else _cached_export(onnx_dir, fingerprint, plan)
    if cached is not None:
        log(f"ONNX export already present in {onnx_dir}")
        return cached
    with dir_lock(onnx_dir):
        cached = None if force else _cached_export(onnx_dir, fingerprint, plan)
        if cached is not None:
            return cached
        remove_stale(onnx_dir)
        stage = staging_dir(onnx_dir, "partial")
        try:
            stage.mkdir()
            info = _export_into(model_dir, stage, fingerprint, log, plan)
            install_dir(stage, onnx_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return _export_result(onnx_dir, info)


def _cached_export(onnx_dir: Path, fingerprint: str, plan: ExportPlan) -> dict[str, Any] | None:
    marker = read_marker(onnx_dir, ONNX_MARKER_FILE)
    if not marker or marker.get("weights_fingerprint") != fingerprint:
        return None
    if marker.get("recipe") != plan.recipe_id:
        return None
    if not all((onnx_dir / n).is_file() for n in ONNX_FILES.values()):
        return None
    return _export_result(onnx_dir, marker)


def _export_result(onnx_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    return {
        "fp32": onnx_dir / ONNX_FILES["fp32"],
        "int8": onnx_dir / ONNX_FILES["int8"],
        "fp32_min_cosine": info["fp32_min_cosine"],
        "int8_min_cosine": info["int8_min_cosine"],
        "int8_mean_cosine": info["int8_mean_cosine"],
    }


# Bump when the export or quantisation recipe changes, so existing exports are redone.
ONNX_RECIPE = "torchscript-opset17-eager/int8-dynamic-perchannel-matmul-gather/v1"
PIPELINE_RECIPE = "dynamo-opset18-st-pipeline/int8-gather-perchannel+matmul-nbits8-b128-acc4/v1"
_RECIPE_IDS: dict[OnnxRecipe, str] = {"token": ONNX_RECIPE, "pipeline": PIPELINE_RECIPE}
_ONNX_INT8_MIN_COSINE = 0.99
#: Gemma's 8-bit variant is served by default only this close to fp32 (measured 0.9987, and the
#: same ranking under cross-validation: README "Models").
_AUTO_INT8_MIN_COSINE = 0.998
ONNX_OPSET = 17
PIPELINE_OPSET = 18


def _export_into(model_dir: Path, stage: Path, fingerprint: str, log: Log,
                 plan: ExportPlan) -> dict[str, Any]:
    started = time.perf_counter()
    fp32_path, int8_path = stage / ONNX_FILES["fp32"], stage / ONNX_FILES["int8"]
    if plan.recipe == "pipeline":
        log("exporting the whole sentence-transformers pipeline to ONNX (dynamo; ~1-3 min, ~6 GB RAM)")
        _pipeline_export(model_dir, fp32_path)
    else:
        _torch_export(model_dir, fp32_path)
    log(f"exported fp32 ONNX in {time.perf_counter() - started:.1f} s; quantising to int8")
    _quantize(fp32_path, int8_path, plan.recipe)
    reference = _torch_embeddings(model_dir, plan)
    fp32_cos = _onnx_cosines(model_dir, fp32_path, reference, plan)
    int8_cos = _onnx_cosines(model_dir, int8_path, reference, plan)
    info: dict[str, Any] = {
        "weights_fingerprint": fingerprint,
        "recipe": plan.recipe_id,
        "fp32_min_cosine": round(float(fp32_cos.min()), 6),
        "int8_min_cosine": round(float(int8_cos.min()), 6),
        "int8_mean_cosine": round(float(int8_cos.mean()), 6),
        # What KIJI_EMBEDDING_RUNTIME=auto serves (embedder.resolve_runtime).
        "auto": "int8" if plan.recipe == "pipeline" and int8_cos.min() >= _AUTO_INT8_MIN_COSINE else "fp32",
        "seconds": round(time.perf_counter() - started, 1),
    }
    if info["fp32_min_cosine"] < ONNX_MATCH_COSINE or info["int8_min_cosine"] < _ONNX_INT8_MIN_COSINE:
        raise ModelPrepError(f"ONNX export disagrees with torch: {info}")
    write_json(stage / ONNX_MARKER_FILE, info)
    make_readable(stage)
    log(f"ONNX export verified: {info}")
    return info


def _torch_export(model_dir: Path, out_path: Path) -> None:
    import torch
    from transformers import AutoModel

    # Eager attention traces to plain MatMul/Softmax, which every onnxruntime build runs.
    bert = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32, attn_implementation="eager")
    bert.eval()

    class _Wrapper(torch.nn.Module):
        """Fixes the signature to (input_ids, attention_mask) -> last_hidden_state."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            token_type_ids = torch.zeros_like(input_ids)
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    # Sample with padding and batch > 1 so no shape gets specialised into the graph.
    ids = torch.tensor([[0, 35378, 6, 5, 2], [0, 35378, 2, 1, 1]], dtype=torch.long)
    mask = (ids != 1).long()
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about a padding branch in transformers' mask builder; for an encoder
        # it is always false, and the cosine checks below exercise other batch/sequence shapes.
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        # dynamo=False: the dynamo exporter needs onnxscript, which is not installed here, and
        # the TorchScript exporter handles this graph fine.
        torch.onnx.export(
            _Wrapper(bert),
            (ids, mask),
            str(out_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "last_hidden_state": {0: "batch", 1: "sequence"},
            },
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _pipeline_export(model_dir: Path, out_path: Path) -> None:
    """The whole sentence-transformers pipeline (transformer, pooling, Dense, normalisation) in one
    graph: (input_ids, attention_mask) -> sentence_embedding."""
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu",
                             model_kwargs={"dtype": torch.float32, "attn_implementation": "eager"})
    st.eval()

    class _Pipeline(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.inner({"input_ids": input_ids, "attention_mask": attention_mask})
            return out["sentence_embedding"]

    sample = st.tokenizer(["task: search result | query: How much did NVIDIA stock fall?", "a b"],
                          padding=True, return_tensors="pt")
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("sequence", min=2, max=8192)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _Pipeline(st), (sample["input_ids"], sample["attention_mask"]),
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            opset_version=PIPELINE_OPSET, dynamo=True, external_data=False, verbose=False)
        if program is None:
            raise ModelPrepError("the dynamo exporter returned no program")
        program.save(str(out_path), external_data=False)


def _quantize(fp32_path: Path, int8_path: Path, recipe: OnnxRecipe = "token") -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # e5: measured on 40 ja/en texts, per-channel int8 kept min cosine 0.995 vs 0.985 per-tensor;
    # quantising the word-embedding Gather too shrinks the file 388 -> 112 MB at no accuracy cost.
    if recipe == "token":
        quantize_dynamic(model_input=str(fp32_path), model_output=str(int8_path),
                         weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Gather"])
        return
    # Gemma, measured against sentence-transformers on mixed ja/en texts, one thread:
    #   fp32                                        cos 1.0      66 ms a query  RSS ~2.6 GB
    #   + embedding table int8 (Gather)             cos 0.9997   66 ms          RSS ~1.4 GB
    #   + MatMul weights 8-bit, int8 compute        cos 0.9987   41 ms          RSS ~1.1 GB  <- shipped
    #   + MatMul dynamic int8 per-channel instead   cos 0.983    21 ms          (too lossy)
    # The 8-bit weights are MatMulNBits (block 128, symmetric, accuracy level 4).
    gathered = int8_path.with_name("gather_int8.onnx")
    quantize_dynamic(model_input=str(fp32_path), model_output=str(gathered),
                     weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Gather"])
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(block_size=128, is_symmetric=True, accuracy_level=4, bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(gathered)), algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(int8_path), False)
    gathered.unlink()


def _torch_embeddings(model_dir: Path, plan: ExportPlan) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    texts = list(CHECK_TEXTS)
    return np.concatenate([model.encode([plan.query_prompt + t for t in texts]),
                           model.encode([plan.passage_prompt + t for t in texts])])


def _onnx_cosines(model_dir: Path, onnx_path: Path, reference: np.ndarray, plan: ExportPlan) -> np.ndarray:
    encoder = OnnxEncoder(model_dir, variant="fp32", threads=os.cpu_count() or 1, model_file=onnx_path,
                          max_length=plan.max_length)
    texts = list(CHECK_TEXTS)
    ours = np.concatenate([encoder.encode(texts, prompt=plan.query_prompt),
                           encoder.encode(texts, prompt=plan.passage_prompt)])
    return np.sum(ours * reference, axis=1)  # both sides are L2-normalised
