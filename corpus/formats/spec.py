"""What kiji knows about one article format: one ``ArticleFormat`` per module in this package.

A format names its file suffixes, whether a file holds one article or many, and its reader. The
size limit (``KIJI_MAX_ARTICLE_BYTES``) follows from that: a one-article file is checked before it is
read (an oversized file costs no memory), a many-article file record by record (the reader calls
``check_record_size``). Registering a format is one module and one line in ``registry.py``; the
supported suffixes, ``kiji index add`` / ``remove`` and the docs' table all read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kiji.corpus.article import Article
from kiji.errors import ArticleError

#: ``read(path, text, max_bytes)``: the decoded file's articles. A one-article reader raises
#: ``ArticleError`` for a bad file; a many-article reader yields an ``ArticleError`` for each bad
#: record, naming it (``file.csv:7``), and goes on with the next.
Reader = Callable[[Path, str, int | None], Iterable[Article | ArticleError]]


@dataclass(frozen=True)
class ArticleFormat:
    #: Shown in the docs and error messages ("CSV").
    name: str
    #: Lower-case, with the dot: (".csv",).
    suffixes: tuple[str, ...]
    #: Many articles per file: each has its own id, and ``kiji index remove`` cannot take one out
    #: (edit the file instead); one article per file: the file name without its suffix is the id.
    many: bool
    read: Reader
    #: One line for the docs: what the reader takes out of a file.
    summary: str
