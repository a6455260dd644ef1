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

    @property
    def max_answer_chars(self) -> int:
        """The longest answer kiji reads: a server that ignores ``max_tokens`` is cut here. A token is
        ~4 characters of English and 1-2 of Japanese, so 8 per token never cuts an honest answer;
        verification costs ~8 µs a character, so the cap (4,096 at 512 tokens) bounds it to ~35 ms."""
        return max(4096, 8 * self.max_tokens)

    @property
    def max_response_bytes(self) -> int:
        """The most bytes of a non-streamed response read: the answer as JSON-escaped UTF-8 (at most
        6 bytes a character, ``\\uXXXX``) plus the envelope."""
        return 6 * self.max_answer_chars + 16_384
