"""The generation step for synchronous callers (the CLI, ``kiji eval``)."""

from __future__ import annotations

import asyncio
from typing import Any

from kiji.retrieval.engine import Engine
from kiji.retrieval.generation.answerer import Generator
from kiji.retrieval.generation.result import GeneratedAskResult
from kiji.retrieval.models import AskResult


class BlockingGenerator:
    """``Generator.answer`` as a plain call, on one event loop for the whole command, so the model
    server's connection is reused from question to question."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self._runner = asyncio.Runner()

    def __call__(self, result: AskResult) -> GeneratedAskResult:
        return self._runner.run(self.generator.answer(result))

    def close(self) -> None:
        try:
            self._runner.run(self.generator.aclose())
        finally:
            self._runner.close()


class GeneratingEngine:
    """An engine whose ``ask`` also runs the generation step; everything else is the engine's
    (``kiji eval`` measures what a reader is shown through it)."""

    def __init__(self, engine: Engine, write: BlockingGenerator) -> None:
        self.engine = engine
        self.write = write

    def ask(self, question: str, **options: Any) -> GeneratedAskResult:
        return self.write(self.engine.ask(question, **options))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)
