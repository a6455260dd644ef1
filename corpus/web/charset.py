"""A page's bytes to text: the charset the server names, else the page's own ``<meta>``, else
UTF-8, else charset-normalizer's best guess. Japanese sites still serve Shift_JIS and EUC-JP."""

from __future__ import annotations

import codecs
import re

from kiji.errors import PageUnusable

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
#: What browsers do (WHATWG Encoding): the Shift_JIS labels mean Windows-31J, a superset with the
#: NEC/IBM extensions (①, ㈱) that pages labelled Shift_JIS use all the time.
_ALIASES = {"shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
            "ms_kanji": "cp932", "windows-31j": "cp932", "euc-jp": "euc_jis_2004", "x-euc-jp": "euc_jis_2004",
            "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    name = _ALIASES.get(label.strip().lower(), label.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"\'') or None
    return None


def decode_page(body: bytes, content_type: str | None, where: str) -> tuple[str, str]:
    """(text, the encoding used). A declared charset that does not decode the bytes is passed over
    (servers mislabel pages), never a reason to refuse one that another rule reads."""
    candidates: list[str | None] = [_codec(header_charset(content_type))]
    meta = _META.search(body[:4096])
    candidates.append(_codec(meta.group(1).decode("ascii", "replace")) if meta else None)
    candidates.append("utf-8")
    for name in dict.fromkeys(c for c in candidates if c):
        try:
            return body.decode("utf-8-sig" if name == "utf-8" else name), name
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is None:
        raise PageUnusable(f"{where}: the page is not text in any encoding kiji can detect")
    return str(best), best.encoding
