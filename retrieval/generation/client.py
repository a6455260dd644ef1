"""The model server, through the official ``openai`` client (``AsyncOpenAI``).

Any OpenAI-compatible chat-completions server works (OpenAI, vLLM, Ollama, llama.cpp's server, LM
Studio). Every way a call can fail becomes a ``GenerationError`` carrying one reason code from
``result`` and a detail safe to show: a status code or an exception's type name, never the response
body, the URL or the key. No retries (``max_retries=0``): the extractive answer is already there, and
a retry would spend the time budget on a server that just failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import openai

from kiji.retrieval.generation import result as reasons
from kiji.retrieval.generation.config import LLMConfig

log = logging.getLogger("kiji.generation")

#: Sent as the bearer token when no key is configured (local servers ignore it). Passing one
#: explicitly also keeps the client from picking up an unrelated OPENAI_API_KEY.
NO_KEY = "no-key"
#: /readyz must answer quickly whatever the model server does.
STATUS_TIMEOUT_S = 2.0


class GenerationError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: str | None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    state: Literal["ok", "unreachable", "error"]
    model: str
    detail: str | None = None
    #: Whether the server's model list names the configured model (None when unknown).
    listed: bool | None = None


def classify(exc: BaseException, *, received: bool = False) -> GenerationError | None:
    """The reason a call failed, or None for an exception that is not about the model server."""
    if isinstance(exc, openai.APITimeoutError):
        return GenerationError(reasons.TIMEOUT, "the model server did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        # A connection that dropped while the response was arriving, not one that never opened.
        # (By class name: the HTTP library under openai is not always the ``httpx`` package.)
        causes = {c.__name__ for c in type(exc.__cause__).__mro__}
        if received or causes & {"RemoteProtocolError", "ReadError"}:
            return GenerationError(reasons.INTERRUPTED, "the connection closed mid-answer")
        return GenerationError(reasons.UNREACHABLE, "could not connect to the model server")
    if isinstance(exc, openai.APIStatusError):
        return GenerationError(reasons.HTTP_ERROR, f"HTTP {exc.status_code}")
    if isinstance(exc, (json.JSONDecodeError, openai.APIResponseValidationError)):
        return GenerationError(reasons.BAD_RESPONSE, f"unreadable response ({type(exc).__name__})")
    return None


def _too_long(config: LLMConfig) -> GenerationError:
    return GenerationError(reasons.TOO_LONG, f"the answer passed {config.max_answer_chars:,} characters "
                                             f"(max_tokens {config.max_tokens} was ignored)")


def _cut(exc: BaseException) -> GenerationError | None:
    """A transport failure while the body was arriving (the status line had come), or None. By
    class name, as in ``classify``: the HTTP library under openai is not always ``httpx``."""
    names = {c.__name__ for c in type(exc).__mro__}
    if "TimeoutException" in names:
        return GenerationError(reasons.TIMEOUT, "the model server did not answer in time")
    if "TransportError" in names:
        return GenerationError(reasons.INTERRUPTED, "the connection closed mid-answer")
    return None


async def _events(parts: AsyncIterator[bytes], config: LLMConfig) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event, never holding more than ``max_response_bytes``."""
    cap = config.max_response_bytes
    buffer = b""
    data: list[bytes] = []
    async for part in parts:
        buffer += part
        while (end := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:end].rstrip(b"\r"), buffer[end + 1:]
            if not line:  # a blank line ends an event
                if data:
                    yield b"\n".join(data).decode("utf-8")
                    data = []
            elif line.startswith(b"data:"):  # event:, id:, retry: and comments carry no answer
                data.append(line[5:].removeprefix(b" "))
                if sum(map(len, data)) > cap:
                    raise _too_long(config)
        if len(buffer) > cap:
            raise _too_long(config)
    if data:
        yield b"\n".join(data).decode("utf-8")


def _deltas(data: str) -> list[tuple[str | None, str | None]]:
    """(text, finish_reason) of each choice of one chat.completion.chunk event."""
    chunk = json.loads(data)
    if not isinstance(chunk, dict) or "error" in chunk:
        raise GenerationError(reasons.BAD_RESPONSE, "the stream held an error or an event that is not a chunk")
    out: list[tuple[str | None, str | None]] = []
    for choice in chunk.get("choices") or []:
        if isinstance(choice, dict):
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
            finish = choice.get("finish_reason")
            out.append((text if isinstance(text, str) else None, finish if isinstance(finish, str) else None))
    return out


class ChatClient:
    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._client: openai.AsyncOpenAI | None = None

    @property
    def model(self) -> str:
        return self.config.model

    def _openai(self) -> openai.AsyncOpenAI:
        # Created on first use, inside the event loop that will use it (httpx pools are per loop).
        if self._client is None:
            self._client = openai.AsyncOpenAI(base_url=self.config.base_url,
                                              api_key=self.config.api_key or NO_KEY,
                                              timeout=self.config.timeout_s, max_retries=0)
        return self._client

    def _params(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        # max_tokens, not max_completion_tokens: the name every local server accepts.
        return {"model": self.config.model, "messages": messages, "max_tokens": self.config.max_tokens,
                "temperature": 0}

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        # Read as a stream of bytes and stop past the cap: a server that ignores max_tokens could
        # otherwise send 20 MB that the client would buffer and parse whole on the event loop.
        cap = self.config.max_response_bytes
        body = bytearray()
        try:
            async with self._openai().chat.completions.with_streaming_response.create(
                    **self._params(messages)) as response:
                try:
                    async for part in response.iter_bytes():
                        body += part
                        if len(body) > cap:
                            raise _too_long(self.config)
                except Exception as exc:  # noqa: BLE001 - a transport failure, or re-raised as it was
                    raise (_cut(exc) or exc) from None
        except GenerationError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised as it was
            raise (classify(exc) or exc) from None
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GenerationError(reasons.BAD_RESPONSE, f"unreadable response ({type(exc).__name__})") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise GenerationError(reasons.BAD_RESPONSE, "the response holds no choices")
        message = choices[0].get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise GenerationError(reasons.BAD_RESPONSE, "the response holds no answer text")
        if len(content) > self.config.max_answer_chars:
            raise _too_long(self.config)
        finish = choices[0].get("finish_reason")
        return Completion(content, finish if isinstance(finish, str) else None)

    async def stream(self, messages: list[dict[str, str]], on_text: Callable[[str], None]) -> Completion:
        """Stream the answer, handing each piece of text to ``on_text``; the whole answer at the end.

        The events are read as bytes and split here (not by the openai client), so that one event
        line is capped too: a server could send its 20 MB answer as a single ``data:`` line."""
        pieces: list[str] = []
        size = 0
        finish: str | None = None
        try:
            async with self._openai().chat.completions.with_streaming_response.create(
                    **self._params(messages), stream=True) as response:
                try:
                    async for data in _events(response.iter_bytes(), self.config):
                        if data == "[DONE]":
                            break
                        for text, ended in _deltas(data):
                            if text:
                                size += len(text)
                                if size > self.config.max_answer_chars:
                                    raise _too_long(self.config)  # leaving the block stops the reading
                                pieces.append(text)
                                on_text(text)
                            finish = ended or finish
                except GenerationError:
                    raise
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise GenerationError(reasons.BAD_RESPONSE,
                                          f"unreadable stream event ({type(exc).__name__})") from None
                except Exception as exc:  # noqa: BLE001 - a transport failure, or re-raised as it was
                    raise (_cut(exc) or exc) from None
        except GenerationError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised as it was
            raise (classify(exc, received=bool(pieces)) or exc) from None
        if finish is None:
            if pieces:
                raise GenerationError(reasons.INTERRUPTED, "the stream ended before the answer did")
            raise GenerationError(reasons.BAD_RESPONSE, "the stream held no answer")
        return Completion("".join(pieces), finish)

    async def status(self) -> ModelStatus:
        """Whether the server answers its model list now (a cheap request that loads no model)."""
        try:
            page = await self._openai().models.list(timeout=min(STATUS_TIMEOUT_S, self.config.timeout_s))
            names = {getattr(m, "id", None) for m in getattr(page, "data", None) or []}
        except Exception as exc:  # noqa: BLE001 - a status probe reports, it never raises
            error = classify(exc)
            if error is None:
                log.warning("model status check failed: %s", type(exc).__name__)
                return ModelStatus("error", self.model, f"unexpected {type(exc).__name__}")
            state: Literal["unreachable", "error"] = \
                "unreachable" if error.reason in (reasons.UNREACHABLE, reasons.TIMEOUT) else "error"
            return ModelStatus(state, self.model, error.detail)
        return ModelStatus("ok", self.model, None, self.model in names if names else None)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
