"""The article formats kiji reads, by suffix: one line each.

Everything that asks "which files are articles?" reads this: the folder scan of a build
(``kiji.corpus.articles``), ``kiji index add`` / ``remove`` (``kiji.corpus.edits``), and the
formats table in the docs (``scripts/samples.py`` writes it, a test keeps it current). Adding a
format is one module in this package and one line here.
"""

from __future__ import annotations

from pathlib import Path

from kiji.corpus.formats import csv, html, jsonl, plain
from kiji.corpus.formats.spec import ArticleFormat

FORMATS: tuple[ArticleFormat, ...] = (
    plain.FORMAT,
    html.FORMAT,
    jsonl.FORMAT,
    csv.FORMAT,
)

BY_SUFFIX: dict[str, ArticleFormat] = {suffix: f for f in FORMATS for suffix in f.suffixes}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(BY_SUFFIX)


def format_of(path: Path) -> ArticleFormat | None:
    """The format that reads ``path``, by its suffix (any case), or None."""
    return BY_SUFFIX.get(path.suffix.lower())
