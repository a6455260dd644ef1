"""``POST /v1/ask`` with ``"stream": true``: the answer as server-sent events.

Events, in order: ``token`` (``{"text": "..."}``) for each piece of answer text as the model writes
it — provisional, not yet verified — then exactly one ``final`` whose data is the complete answer
object (the same as the non-streaming response). The ``final`` answer is what to show: when the
model's text failed verification (or the model failed), it is the extractive answer, with
``answer_mode: "extractive"`` and the ``fallback_reason``. Without a model configured, or when kiji
declines, the stream is the ``final`` event alone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from kiji.retrieval.generation.answerer import Generator
from kiji.retrieval.models import AskResult

MEDIA_TYPE = "text/event-stream"
#: For OpenAPI: /v1/ask answers JSON, or an event stream when asked to (``schema`` describes one event).
ASK_STREAM_RESPONSE: dict[int | str, dict[str, object]] = {200: {"content": {MEDIA_TYPE: {"schema": {
    "type": "object", "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["token", "final"]},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "description": 'token: {"text": "..."} (provisional); final: the answer object'},
    }}}}}}


def sse(event: str, data: str) -> bytes:
    """One event; ``data`` is compact JSON, so it never spans lines."""
    return f"event: {event}\ndata: {data}\n\n".encode()


async def answer_events(result: AskResult, generator: Generator | None) -> AsyncIterator[bytes]:
    if generator is None:
        yield sse("final", result.model_dump_json())
        return
    stream = generator.stream(result)
    try:
        async for item in stream:
            if isinstance(item, str):
                yield sse("token", json.dumps({"text": item}, ensure_ascii=False))
            else:
                yield sse("final", item.model_dump_json())
    finally:
        await stream.aclose()  # a client that went away cancels the model request


def event_stream(result: AskResult, generator: Generator | None) -> StreamingResponse:
    # no-cache and no proxy buffering: each event must reach the client when it is written.
    return StreamingResponse(answer_events(result, generator), media_type=MEDIA_TYPE,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
