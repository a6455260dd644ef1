"""Loaded by Python at start-up in `kiji` subprocesses that tests start with this folder on
``PYTHONPATH`` (``tests/kiji_cli.py``): the real entry point runs, with ``FakeEmbedder`` in place
of the embedding model, so a CLI test costs about a second instead of a model load."""

import kiji.retrieval.embedding.embedder as _embedder
from kiji.retrieval.embedding.fake import FakeEmbedder as _Fake

_embedder.load_embedder = lambda config: _Fake()
