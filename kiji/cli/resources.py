"""What the commands load: settings from the command line, the embedder, engines, the language model.

Tests replace ``engine``, ``unfitted_engine`` and ``embedder`` here (a fake engine, ``FakeEmbedder``);
the command modules call them through this module so a replacement reaches every command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiji.errors import InvalidInput

if TYPE_CHECKING:  # the commands import what they need when they run: `kiji --help` stays fast
    from kiji.retrieval.embedding.embedder import Embedder
    from kiji.retrieval.engine import Engine
    from kiji.retrieval.generation.blocking import BlockingGenerator
    from kiji.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from kiji.settings import Settings

    overrides: dict[str, Any] = {}
    for name in ("corpus_dir", "index_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = Path(value)
    # Options that stand for a setting go through the settings' own validation (a model_copy would
    # skip it: --port 99999 was logged and a random port listened on, --workers 0 accepted).
    for name in ("host", "port", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        def where(loc: tuple[int | str, ...]) -> str:
            name = ".".join(map(str, loc)) or "settings"
            return f"--{name}" if name in ("host", "port", "workers") and name in overrides else name

        # A default computed from an invalid field fails too; only the field itself is news.
        problems = "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in exc.errors()
                             if e["type"] != "default_factory_not_called")
        raise InvalidInput(f"invalid settings: {problems}") from None


def embedder(settings: Settings) -> Embedder:
    from kiji.runtime import build_threads, load_embedder

    return load_embedder(settings, threads=build_threads(settings))


def engine(settings: Settings) -> Engine:
    from kiji.runtime import load_engine

    return load_engine(settings)


def unfitted_engine(settings: Settings) -> Engine:
    """An engine without the answer model file: ``kiji fit`` only gathers candidates, and must work
    when the current model was fitted on other signals (that is when one refits)."""
    from kiji.runtime import load_engine

    return load_engine(settings, unfitted=True)


def generation(settings: Settings) -> BlockingGenerator | None:
    """The optional model step as a plain call, or None when no model is configured."""
    from kiji.retrieval.generation.blocking import BlockingGenerator
    from kiji.runtime import load_generator

    generator = load_generator(settings)
    return BlockingGenerator(generator) if generator is not None else None
