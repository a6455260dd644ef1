"""The values the generation step needs, passed in by the composition root (never read here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LLMConfig:
    #: Any OpenAI-compatible chat-completions server, e.g. ``http://127.0.0.1:11434/v1`` (Ollama).
    base_url: str
    model: str
    #: Sent only as the ``Authorization`` header; kept out of ``repr`` so it cannot reach a log line.
    api_key: str | None = field(default=None, repr=False)
    #: The whole generation (connect, first token, last token) must finish within this.
    timeout_s: float = 20.0
    max_tokens: int = 512
