"""Checks on what an index folder holds before anything trusts it: the ``CURRENT`` pointer, the
manifest's fields and types, and every row of the article and chunk tables.

Each check turns damage (garbage bytes, a truncated file, valid JSON of the wrong shape, a pointer
out of the index folder) into an ``IndexCorrupt`` that names the file and what is wrong with it, so
no reader ever meets a ``KeyError`` or ``UnicodeDecodeError`` from a damaged file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kiji.errors import IndexCorrupt

REBUILD_HINT = "rebuild with `kiji index build --full`, or `kiji index rollback` to the previous version"
POINTER_HINT = ("`kiji index rollback` points it at the newest version that loads; "
                "`kiji index build` publishes a new one")
#: What a build names its versions (``20261123T101500123456Z-4242``); anything path-like is refused.
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
#: CURRENT holds one version name and a newline; more than this is not a pointer.
MAX_POINTER_BYTES = 1024


def _shown(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}…"


def parse_pointer(data: bytes, index_dir: Path) -> str | None:
    """The version ``CURRENT``'s bytes name; ``None`` for no file. Raises ``IndexCorrupt`` when they
    are not one plain version name (binary garbage, an absolute path, ``../elsewhere``, empty)."""
    where = f"{index_dir / 'CURRENT'}"

    def damaged(why: str) -> IndexCorrupt:
        return IndexCorrupt(f"{where} is damaged: {why}", hint=POINTER_HINT)

    if len(data) > MAX_POINTER_BYTES:
        raise damaged(f"{len(data)} bytes where one version name belongs")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise damaged("it holds bytes that are not text") from None
    name = text.strip()
    if not name:
        raise damaged("it is empty")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[\\/]", name):
        raise damaged(f"it holds an absolute path ({_shown(name)}), not a version name")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise damaged(f"it holds a path ({_shown(name)}), not a version name in {index_dir / 'versions'}")
    if not VERSION_NAME.fullmatch(name):
        raise damaged(f"it holds {_shown(name)}, not a version name")
    return name


# --- the manifest ----------------------------------------------------------------------------------

_STR, _INT, _DICT, _LIST = "a string", "an integer", "an object", "a list"
_TYPES: dict[str, tuple[type, ...]] = {_STR: (str,), _INT: (int,), _DICT: (dict,), _LIST: (list,)}

#: field path → expected kind; ``?`` marks fields that may be missing or null.
_MANIFEST_FIELDS: dict[str, str] = {
    "version": _STR, "created_at": _STR,
    "model": _DICT, "model.id": _STR, "model.fingerprint": _STR, "model.runtime": _STR, "model.dim": _INT,
    "chunker": _DICT,
    "index": _DICT, "index.kind": _STR,
    "counts": _DICT, "counts.articles": _INT, "counts.chunks": _INT,
    "articles": _DICT,
    "skipped?": _LIST,
}


def _kind_of(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _is(value: object, kind: str) -> bool:
    return isinstance(value, _TYPES[kind]) and not isinstance(value, bool)


def check_manifest(manifest: dict[str, Any], version: str) -> dict[str, Any]:
    """Every field a reader uses is there with the right type; the per-article entries too."""

    def damaged(why: str) -> IndexCorrupt:
        return IndexCorrupt(f"manifest.json of index version {version} is damaged: {why}", hint=REBUILD_HINT)

    for spec, kind in _MANIFEST_FIELDS.items():
        optional = spec.endswith("?")
        path = spec.rstrip("?").split(".")
        value: Any = manifest
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None and optional:
            continue
        if value is None:
            raise damaged(f"'{'.'.join(path)}' is missing")
        if not _is(value, kind):
            raise damaged(f"'{'.'.join(path)}' should be {kind}, not {_kind_of(value)}")
    if manifest["model"]["dim"] <= 0 or manifest["counts"]["chunks"] < 0 or manifest["counts"]["articles"] < 0:
        raise damaged("a count or the dimension is negative")
    for aid, entry in manifest["articles"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise damaged(f"the entry of article {_shown(aid)} has no 'sha256' string")
    return manifest


# --- table rows ----------------------------------------------------------------------------------

_ARTICLE_STR = ("id", "title", "text", "source")
_ARTICLE_OPTIONAL = ("url", "published", "sha256")


def check_article_row(row: object, version: str, line: int) -> dict[str, Any]:
    def damaged(why: str) -> IndexCorrupt:
        return IndexCorrupt(f"the article table (articles.jsonl) of index version {version} is damaged: "
                            f"line {line} {why}", hint=REBUILD_HINT)

    if not isinstance(row, dict):
        raise damaged(f"is {_kind_of(row)}, not an object")
    for key in _ARTICLE_STR:
        if not isinstance(row.get(key), str):
            raise damaged(f"has no '{key}' string")
    for key in _ARTICLE_OPTIONAL:
        if row.get(key) is not None and not isinstance(row[key], str):
            raise damaged(f"has a '{key}' that is not a string")
    return row


def check_chunk_row(row: object, version: str, line: int, text_length: int | None) -> dict[str, Any]:
    """``text_length`` is the length of the article the row names (``None``: no such article)."""

    def damaged(why: str) -> IndexCorrupt:
        return IndexCorrupt(f"the chunk table (chunks.jsonl) of index version {version} is damaged: "
                            f"line {line} {why}", hint=REBUILD_HINT)

    if not isinstance(row, dict):
        raise damaged(f"is {_kind_of(row)}, not an object")
    if not isinstance(row.get("article_id"), str):
        raise damaged("has no 'article_id' string")
    if text_length is None:
        raise damaged(f"names article {_shown(row['article_id'])}, which the article table lacks")
    start, end, sentences = row.get("start"), row.get("end"), row.get("sentences")
    if not (isinstance(start, int) and isinstance(end, int) and _is(start, _INT) and _is(end, _INT)
            and 0 <= start <= end <= text_length):
        raise damaged("has offsets outside its article")
    if not isinstance(sentences, list) or not all(
            isinstance(s, list) and len(s) == 2 and all(_is(x, _INT) for x in s)
            and 0 <= s[0] <= s[1] <= text_length for s in sentences):
        raise damaged("has sentence spans that are not pairs of offsets inside its article")
    return row
