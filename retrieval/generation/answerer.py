"""The generation step: the engine's result in, a verified generated answer or the extractive one out.

``Generator.answer`` (one request) and ``Generator.stream`` (text as it arrives, then the final
result) never raise for anything the model server does: a timeout, an error, an unreadable reply or
an answer that fails verification all end in the engine's extractive answer, with the reason
recorded. The whole step is bounded by ``LLMConfig.timeout_s``. The engine's decision and quotes are
never changed, except that a model saying the passages do not answer turns ``answered`` off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator

from kiji.retrieval.answer.compose import NOT_FOUND
from kiji.retrieval.answer.figures import strip_invisible
from kiji.retrieval.generation import result as reasons
from kiji.retrieval.generation.client import ChatClient, Completion, GenerationError, ModelStatus
from kiji.retrieval.generation.config import LLMConfig
from kiji.retrieval.generation.prompt import Passage, build_messages, passages_of
from kiji.retrieval.generation.result import Citation, GeneratedAskResult, extend
from kiji.retrieval.generation.verify import verify
from kiji.retrieval.models import AskResult

log = logging.getLogger("kiji.generation")

#: How long a model status stays fresh for /readyz (probes cost the model server a request).
STATUS_TTL_S = 10.0


class _Visible:
    """Drops a reasoning model's leading <think>…</think> block from streamed text."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._held = ""
        self._state = "start"  # start → (thinking →) open

    def feed(self, text: str) -> str:
        if self._state == "open":
            return text
        self._held += text
        if self._state == "start":
            head = self._held.lstrip()
            if self.OPEN.startswith(head):
                return ""  # could still become <think>
            if not head.startswith(self.OPEN):
                self._state = "open"
                out, self._held = self._held, ""
                return out
            self._state = "thinking"
        end = self._held.find(self.CLOSE)
        if end < 0:
            return ""
        self._state = "open"
        out, self._held = self._held[end + len(self.CLOSE):].lstrip(), ""
        return out


class Generator:
    def __init__(self, config: LLMConfig, client: ChatClient | None = None) -> None:
        self.config = config
        self.client = client or ChatClient(config)
        self._status: tuple[float, ModelStatus] | None = None

    @property
    def model(self) -> str:
        return self.config.model

    # --- answers -----------------------------------------------------------------------------

    def _prepare(self, result: AskResult) -> tuple[list[Passage], list[dict[str, str]]] | None:
        if not result.answered or not result.quotes:
            return None
        passages = passages_of(result.quotes)
        return passages, build_messages(result.question, result.language, passages,
                                        sources_differ=result.sources_differ)

    async def answer(self, result: AskResult) -> GeneratedAskResult:
        prepared = self._prepare(result)
        if prepared is None:
            return _fallback(result, reasons.DECLINED, None, 0.0)
        passages, messages = prepared
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.config.timeout_s):
                completion = await self.client.complete(messages)
                # Verification too is inside the budget, and on a thread: ~8 µs a character.
                return await asyncio.to_thread(_finish, result, completion, passages, started)
        except TimeoutError:
            return _fallback(result, reasons.TIMEOUT, _late(self.config), _ms(started))
        except GenerationError as exc:
            return _fallback(result, exc.reason, exc.detail, _ms(started))
        except Exception as exc:  # a bug or an unforeseen client failure: logged, still answered
            log.exception("generation failed")
            return _fallback(result, reasons.ERROR, type(exc).__name__, _ms(started))

    async def stream(self, result: AskResult) -> AsyncGenerator[str | GeneratedAskResult, None]:
        """Pieces of answer text as the model writes them (not yet verified), then the final result.

        The final result is what to show: when the streamed text failed verification it is the
        extractive answer instead. Closing the iterator early cancels the request."""
        prepared = self._prepare(result)
        if prepared is None:
            yield _fallback(result, reasons.DECLINED, None, 0.0)
            return
        passages, messages = prepared
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout_s
        queue: asyncio.Queue[str | Completion | Exception] = asyncio.Queue()

        async def produce() -> None:
            try:
                queue.put_nowait(await self.client.stream(messages, queue.put_nowait))
            except Exception as exc:  # noqa: BLE001 - handed to the reader below, which classifies it
                queue.put_nowait(exc)

        visible = _Visible()
        task = asyncio.create_task(produce(), name="kiji-generation-stream")
        final: GeneratedAskResult
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    final = _fallback(result, reasons.TIMEOUT, _late(self.config), _ms(started))
                    break
                if isinstance(item, str):
                    # Invisible format characters (bidi overrides) are never shown, even unverified.
                    if text := strip_invisible(visible.feed(item)):
                        yield text
                    continue
                if isinstance(item, Completion):
                    try:
                        final = await asyncio.wait_for(
                            asyncio.to_thread(_finish, result, item, passages, started),
                            max(0.0, deadline - loop.time()))
                    except TimeoutError:
                        final = _fallback(result, reasons.TIMEOUT, _late(self.config), _ms(started))
                elif isinstance(item, GenerationError):
                    final = _fallback(result, item.reason, item.detail, _ms(started))
                else:
                    log.error("generation stream failed", exc_info=item)
                    final = _fallback(result, reasons.ERROR, type(item).__name__, _ms(started))
                break
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        yield final

    # --- the model server ----------------------------------------------------------------------

    async def status(self) -> ModelStatus:
        """The model server's state, probed at most every ``STATUS_TTL_S`` seconds."""
        now = time.monotonic()
        if self._status is None or now - self._status[0] > STATUS_TTL_S:
            self._status = (now, await self.client.status())
        return self._status[1]

    async def aclose(self) -> None:
        await self.client.aclose()


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _late(config: LLMConfig) -> str:
    return f"no complete answer within {config.timeout_s:g} s"


def _fallback(result: AskResult, reason: str, detail: str | None, ms: float,
              checks: list[str] | None = None) -> GeneratedAskResult:
    if reason != reasons.DECLINED:
        log.info("model answer not used: %s (%s)", reason, detail)
    return extend(result, answer_mode="extractive", fallback_reason=reason, fallback_detail=detail,
                  took_ms=round(result.took_ms + ms, 2), checks=checks or [reason])


def _finish(result: AskResult, completion: Completion, passages: list[Passage],
            started: float) -> GeneratedAskResult:
    if completion.finish_reason == "length":
        return _fallback(result, reasons.TRUNCATED, "the answer reached the token limit", _ms(started))
    if completion.finish_reason == "content_filter":
        return _fallback(result, reasons.BAD_RESPONSE, "the server filtered the answer", _ms(started))
    check = verify(completion.text, passages, result.language)
    ms = _ms(started)  # after verification: took_ms counts the model call and the checks
    took = round(result.took_ms + ms, 2)
    if check.declined:
        # The model may lower `answered`, never raise it: its decline stands, in kiji's words.
        return extend(result, answered=False, answer=NOT_FOUND[result.language], quotes=[], more_quotes=[],
                      sources_differ=False, answer_mode="generated", model_declined=True, took_ms=took)
    if not check.ok:
        first = check.failures[0]
        detail = "; ".join(dict.fromkeys(f.detail for f in check.failures[:3]))
        return _fallback(result, first.reason, detail, ms, checks=[f.reason for f in check.failures])
    return extend(result, answer=check.text, answer_mode="generated",
                  citations=[Citation(n=n, quote=n - 1) for n in check.cited],
                  unsourced=check.unsourced, took_ms=took)
