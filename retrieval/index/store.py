"""The index directory: immutable versions, a ``CURRENT`` pointer, a manifest per version.

    <index_dir>/
      CURRENT                      name of the version being served (replaced atomically)
      versions/<version>/
        manifest.json              model, dimension, chunker, per-article hashes, counts, created
        vectors.faiss              the FAISS index; row i is chunk i
        chunks.jsonl               the chunk table: article id, offsets, sentence spans
        articles.jsonl             every article's text as indexed (quotes are sliced from here)
        sentences.npy              one vector per distinct sentence span (for choosing quotes)
                                   (compact versions: sentences.int8.npy + sentences.scale.npy)
      cache/embeddings-<fp>.sqlite passage vectors by text hash, reused by incremental builds
      .build.lock                  held by the one build that may run

A version directory is complete before ``CURRENT`` names it, so readers only ever see whole
versions; a crash leaves at worst an unnamed ``tmp-*`` directory that the next build removes.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiji.corpus.articles import Article, text_hash
from kiji.corpus.chunker import Chunk
from kiji.durable import fsync_dir, replace_text_durable, write_text_durable
from kiji.errors import IndexCorrupt, IndexIncompatible, IndexMissing
from kiji.retrieval.index.compact import Int8Vectors
from kiji.retrieval.index.files import (
    MappedFiles,
    check_sizes,
    freeze,
    load_array,
    not_a_file,
    plain_file,
    read_capped,
    remove_any,
    sizes_of,
)
from kiji.retrieval.index.integrity import (
    MAX_POINTER_BYTES,
    POINTER_HINT,
    check_article_row,
    check_chunk_row,
    check_manifest,
    parse_pointer,
)
from kiji.retrieval.index.vector_index import FaissIndex

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.jsonl"
SENTENCES = "sentences.npy"
SENTENCE_CODES = "sentences.int8.npy"
SENTENCE_SCALES = "sentences.scale.npy"
#: The files that can be memory-mapped: their sizes are in the manifest.
_BINARY = (VECTORS, SENTENCES, SENTENCE_CODES, SENTENCE_SCALES)
CURRENT = "CURRENT"
#: The next CURRENT while it is written; a crash can leave it, and the next build removes it.
CURRENT_TMP = f".{CURRENT}.tmp"
VERSIONS = "versions"
#: manifest.json holds ~150 bytes an article: 256 MiB is well over a million articles.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024

_REBUILD_HINT = "rebuild with `kiji index build --full`, or `kiji index rollback` to the previous version"


@dataclass(frozen=True, slots=True)
class LoadedIndex:
    version: str
    path: Path
    manifest: dict[str, Any]
    vectors: FaissIndex
    chunks: list[Chunk]
    articles: dict[str, Article]
    #: Distinct sentence spans of all chunks, and their vectors (same row order).
    sentences: list[tuple[str, int, int]]
    #: float32 rows, or ``Int8Vectors`` (compact versions) that decode the rows asked for: either
    #: way ``sentence_vectors[rows]`` is a float32 array.
    sentence_vectors: np.ndarray | Int8Vectors
    sentence_ids: dict[tuple[str, int, int], int]
    #: The memory-mapped files (KIJI_INDEX_MMAP), checked before each search; empty when read into memory.
    mapped: MappedFiles = MappedFiles("")

    @property
    def model_fingerprint(self) -> str:
        return str(self.manifest["model"]["fingerprint"])


def sentence_table(chunks: list[Chunk]) -> list[tuple[str, int, int]]:
    """Distinct sentence spans in chunk order (overlapping chunks share sentences)."""
    seen: dict[tuple[str, int, int], None] = {}
    for chunk in chunks:
        for s, e in chunk.sentences:
            seen.setdefault((chunk.article_id, s, e), None)
    return list(seen)


def write_version(path: Path, *, manifest: dict[str, Any], vectors: FaissIndex,
                  chunks: list[Chunk], articles: list[Article],
                  sentences: list[tuple[str, int, int]], sentence_vectors: np.ndarray | Int8Vectors) -> None:
    path.mkdir(parents=True)
    vectors.save(path / VECTORS)
    if isinstance(sentence_vectors, Int8Vectors):
        sentence_vectors.save(path / SENTENCE_CODES, path / SENTENCE_SCALES)
    else:
        with (path / SENTENCES).open("wb") as fh:
            np.save(fh, np.asarray(sentence_vectors, dtype=np.float32))
            fh.flush()
            os.fsync(fh.fileno())
    write_text_durable(path / CHUNKS, "".join(
        json.dumps({"article_id": c.article_id, "start": c.start, "end": c.end,
                    "sentences": c.sentences}, ensure_ascii=False) + "\n" for c in chunks))
    write_text_durable(path / ARTICLES, "".join(
        json.dumps(a.to_dict(), ensure_ascii=False) + "\n" for a in articles))
    # The manifest goes last: its presence marks a complete version. It records the binary files'
    # sizes, checked before they are mapped.
    manifest = {**manifest, "files": sizes_of(path, _BINARY)}
    write_text_durable(path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    with (path / VECTORS).open("rb") as fh:
        os.fsync(fh.fileno())
    freeze(path)
    fsync_dir(path)


def current_version(index_dir: Path) -> str | None:
    """The version ``CURRENT`` names, ``None`` without one; ``IndexCorrupt`` when it is damaged
    (garbage, empty, a path rather than a name: never followed out of ``versions/``; a directory,
    a FIFO, a device or a link out of the folder: refused before it is opened)."""
    try:
        problem = not_a_file(index_dir / CURRENT, index_dir)
        if problem:
            raise IndexCorrupt(f"{index_dir / CURRENT} is damaged: it is {problem}", hint=POINTER_HINT)
        data = read_capped(index_dir / CURRENT, MAX_POINTER_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"{index_dir / CURRENT} cannot be read ({exc.strerror})", hint=POINTER_HINT) from None
    return parse_pointer(data, index_dir)


def list_versions(index_dir: Path) -> list[str]:
    """Every version folder, damaged ones included (a lost manifest must show, not hide it)."""
    root = index_dir / VERSIONS
    if not root.is_dir():
        return []
    # ``tmp-*`` is a build in progress or one that crashed before publishing: not a version.
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("tmp-"))


def publish(index_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at ``version`` atomically (write a temp file, fsync, rename). A ``CURRENT``
    or a leftover temp file that is not a plain file (a directory, a FIFO) is removed first: a
    rename cannot replace a directory, and a build or rollback is how a broken pointer is repaired."""
    for path in (index_dir / CURRENT, index_dir / CURRENT_TMP):
        try:
            if not_a_file(path, index_dir) is not None or path.is_symlink():
                remove_any(path)
        except FileNotFoundError:
            pass
    replace_text_durable(index_dir / CURRENT, version + "\n", tmp=index_dir / CURRENT_TMP)


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        plain_file(path, MANIFEST, "manifest.json")
        data = read_capped(path / MANIFEST, MAX_MANIFEST_BYTES)
        if len(data) > MAX_MANIFEST_BYTES:
            raise IndexCorrupt(f"manifest.json of index version {path.name} is larger than "
                               f"{MAX_MANIFEST_BYTES:,} bytes", hint=_REBUILD_HINT)
        manifest = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(f"index version {path.name} has no manifest.json", hint=_REBUILD_HINT) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise IndexCorrupt(f"manifest.json of index version {path.name} is not valid JSON",
                           hint=_REBUILD_HINT) from None
    except OSError as exc:
        raise IndexCorrupt(f"manifest.json of index version {path.name} cannot be read ({exc.strerror})",
                           hint=_REBUILD_HINT) from None
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"manifest.json of index version {path.name} is damaged: it is not an object",
                           hint=_REBUILD_HINT)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexIncompatible(f"index version {path.name} has an unknown format",
                                hint=_REBUILD_HINT)
    return check_manifest(manifest, path.name)


def _read_jsonl(path: Path, what: str) -> list[dict[str, Any]]:
    try:
        plain_file(path.parent, path.name, what)
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        raise IndexCorrupt(f"the {what} ({path.name}) is missing from index version {path.parent.name}",
                           hint=_REBUILD_HINT) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise IndexCorrupt(f"the {what} ({path.name}) in index version {path.parent.name} is damaged",
                           hint=_REBUILD_HINT) from None
    except OSError as exc:
        raise IndexCorrupt(f"the {what} ({path.name}) in index version {path.parent.name} cannot be read "
                           f"({exc.strerror})", hint=_REBUILD_HINT) from None


def _check_count(path: Path, file: str, what: str, found: int, expected: int, unit: str) -> None:
    if found != expected:  # rows lost to truncation, or a table of another version
        raise IndexCorrupt(f"the {what} ({file}) of index version {path.name} is damaged: it holds "
                           f"{found} {unit}, {MANIFEST} says {expected}", hint=_REBUILD_HINT)


def load_version(path: Path, *, mmap: bool = False) -> LoadedIndex:
    manifest = read_manifest(path)
    articles = {}
    for line, row in enumerate(_read_jsonl(path / ARTICLES, "article table"), 1):
        article = Article.from_dict(check_article_row(row, path.name, line))
        articles[article.id] = article
    counts = manifest["counts"]
    _check_count(path, ARTICLES, "article table", len(articles), counts["articles"], "articles")
    chunks = []
    for line, row in enumerate(_read_jsonl(path / CHUNKS, "chunk table"), 1):
        owner = articles.get(row["article_id"]) if isinstance(row, dict) and \
            isinstance(row.get("article_id"), str) else None
        check_chunk_row(row, path.name, line, len(owner.text) if owner else None)
        assert owner is not None
        chunks.append(Chunk(row["article_id"], row["start"], row["end"], owner.text[row["start"]:row["end"]],
                            tuple((s, e) for s, e in row["sentences"])))
    _check_count(path, CHUNKS, "chunk table", len(chunks), counts["chunks"], "chunks")
    if not (path / VECTORS).is_file():
        raise IndexCorrupt(f"the vector file is missing from index version {path.name} ({VECTORS})",
                           hint=_REBUILD_HINT)
    for name in _BINARY:
        with contextlib.suppress(FileNotFoundError):  # a missing one is named below, by its reader
            plain_file(path, name, "vector file")
    vectors = FaissIndex.load(path / VECTORS, mmap=mmap)
    if vectors.size != len(chunks) or counts.get("chunks") != len(chunks) \
            or counts.get("articles") != len(articles):
        raise IndexCorrupt(
            f"index version {path.name} is inconsistent: {VECTORS} holds {vectors.size} vectors, "
            f"{CHUNKS} {len(chunks)} chunks and {ARTICLES} {len(articles)} articles; {MANIFEST} says "
            f"{counts.get('chunks')} chunks and {counts.get('articles')} articles", hint=_REBUILD_HINT)
    if not vectors.all_finite():
        raise IndexCorrupt(f"the vector file ({VECTORS}) of index version {path.name} holds NaN or "
                           "infinite values", hint=_REBUILD_HINT)
    if vectors.dim != manifest["model"]["dim"]:
        raise IndexCorrupt(f"index version {path.name}: vectors have dimension {vectors.dim}, "
                           f"manifest says {manifest['model']['dim']}", hint=_REBUILD_HINT)
    sentences = sentence_table(chunks)
    sentence_vectors: np.ndarray | Int8Vectors
    if manifest["index"].get("sentence_vectors", "float32") == "int8":
        codes = load_array(path, SENTENCE_CODES, np.int8, (len(sentences), vectors.dim), mmap)
        scales = load_array(path, SENTENCE_SCALES, np.float32, (len(sentences),), mmap)
        sentence_vectors = Int8Vectors(codes, scales)
    else:
        sentence_vectors = load_array(path, SENTENCES, np.float32, (len(sentences), vectors.dim), mmap)
    for aid, article in articles.items():
        expected = manifest["articles"].get(aid, {}).get("sha256")
        # Hash the text itself: the sha256 stored beside it in articles.jsonl would hide an edit.
        if expected != text_hash(article.text):
            raise IndexCorrupt(f"article {aid} in index version {path.name} ({ARTICLES}) does not match its hash",
                               hint=_REBUILD_HINT)
    # Last, so the messages above name a damaged table first; before anything is served or read.
    files = manifest.get("files")
    check_sizes(path, files if isinstance(files, dict) else {})
    return LoadedIndex(version=path.name, path=path, manifest=manifest, vectors=vectors,
                       chunks=chunks, articles=articles, sentences=sentences,
                       sentence_vectors=sentence_vectors,
                       sentence_ids={key: i for i, key in enumerate(sentences)},
                       mapped=MappedFiles.of(path, [f for f in _BINARY if (path / f).is_file()]) if mmap
                       else MappedFiles(path.name))


def load_current(index_dir: Path, *, mmap: bool = False) -> LoadedIndex:
    version = current_version(index_dir)
    if version is None:
        if list_versions(index_dir):  # the versions are there, the pointer to one is lost
            raise IndexCorrupt(f"{index_dir / CURRENT} is missing beside {len(list_versions(index_dir))} "
                               "index version(s)", hint=POINTER_HINT)
        raise IndexMissing(f"no index found in {index_dir}", hint="build it with `kiji index build`")
    path = index_dir / VERSIONS / version
    if not path.is_dir():
        raise IndexCorrupt(f"CURRENT names index version {version}, which does not exist",
                           hint="run `kiji index rollback` or `kiji index build`")
    return load_version(path, mmap=mmap)


def titled_sentences(manifest: dict[str, Any]) -> bool:
    """The index's sentences were embedded with their titles (indexes written before the field: not)."""
    return bool(manifest.get("model", {}).get("titled_sentences", False))


def check_compatible(manifest: dict[str, Any], *, fingerprint: str, dim: int, runtime: str,
                     titled: bool = False) -> None:
    """Refuse to search vectors made by another model, dimension or incompatible runtime, or with
    sentences embedded with or without their titles when the model now embeds them the other way."""
    model = manifest["model"]
    if model["dim"] != dim:
        raise IndexIncompatible(
            f"the index has {model['dim']}-dimensional vectors but the embedding model makes {dim}",
            hint="rebuild the index with the current model (`kiji index build --full`)")
    if model["fingerprint"] != fingerprint:
        raise IndexIncompatible(
            f"the index was built with model {model['id']} ({model['fingerprint']}, runtime "
            f"{model.get('runtime')}), not the loaded one ({fingerprint}, runtime {runtime})",
            hint="set KIJI_EMBEDDING_MODEL / KIJI_EMBEDDING_RUNTIME to match, or rebuild the index")
    if titled_sentences(manifest) != titled:
        raise IndexIncompatible(
            "the index's sentences were embedded " + ("with" if not titled else "without")
            + " their titles, and this version of kiji embeds them " + ("with" if titled else "without"),
            hint="run `kiji index build`")


def self_query_ok(index: FaissIndex, vectors: np.ndarray, rows: list[int], tolerance: float = 1e-4) -> bool:
    """Each probe row's own vector must find that row first (ties allowed for duplicate texts;
    ``tolerance`` absorbs the rounding of quantised indexes, whose scores are approximate)."""
    if not rows:
        return True
    scores, ids = index.search(vectors[rows], 5)
    for row, row_scores, row_ids in zip(rows, scores, ids, strict=True):
        if row in row_ids:
            if row_scores[list(row_ids).index(row)] < row_scores[0] - tolerance:
                return False
        # Five or more identical passages (duplicate articles) can crowd the row out of its own
        # top 5; that is fine as long as every hit scores what the row's own vector scores.
        elif row_scores[-1] < float(vectors[row] @ vectors[row]) - tolerance:
            return False
    return True
