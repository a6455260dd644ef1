"""The articles that ship with kiji, found through ``importlib.resources`` wherever kiji is installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: ``corpus/articles`` in a checkout, ``site-packages/kiji/corpus/articles`` in an installed wheel.
#: Read-only package data: `kiji index add/remove` need a corpus folder of one's own.
SHIPPED_CORPUS_DIR = Path(str(files("kiji.corpus") / "articles"))
