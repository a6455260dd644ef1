"""/ask with a language model: the deferred reply is edited as the answer is written.

Discord limits how often a message may be edited, so the draft is edited at most once per
``EDIT_INTERVAL_S`` (text that arrives in between waits for the next edit), and the final edit waits
its turn too. Drafts are labelled "not yet checked"; the final edit (by the caller) is the verified
answer — or the extractive one when verification failed — with the quote embed as always. A failed
draft edit is logged and skipped: it never costs the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import discord

from kiji.bot.embeds import draft_embed
from kiji.bot.i18n import Lang
from kiji.retrieval.generation.answerer import Generator
from kiji.retrieval.generation.result import GeneratedAskResult
from kiji.retrieval.models import AskResult

log = logging.getLogger("kiji.bot")

#: Seconds between edits of one reply: well inside Discord's per-message edit rate limit
#: (about five edits per five seconds), leaving room for the final edit.
EDIT_INTERVAL_S = 1.0


class LiveReply:
    """Edits one deferred interaction reply, no more often than every ``interval`` seconds."""

    def __init__(self, interaction: discord.Interaction[Any], result: AskResult, lang: Lang, *,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interaction = interaction
        self.result = result
        self.lang = lang
        self.interval = EDIT_INTERVAL_S if interval is None else interval
        self.clock = clock
        self.last_edit: float | None = None
        self.edits = 0

    def due(self) -> bool:
        return self.last_edit is None or self.clock() - self.last_edit >= self.interval

    async def show(self, text: str) -> None:
        """Show the draft ``text`` now if an edit is due, else leave it for a later call."""
        if not text.strip() or not self.due():
            return
        self.last_edit = self.clock()
        try:
            await self.interaction.edit_original_response(embed=draft_embed(self.result, text, self.lang))
            self.edits += 1
        except discord.HTTPException as exc:
            log.warning("draft edit of interaction %s failed: HTTP %s", self.interaction.id, exc.status)

    async def wait_turn(self) -> None:
        """Sleep until the next edit is allowed (for the final one)."""
        if self.last_edit is not None:
            await asyncio.sleep(max(0.0, self.interval - (self.clock() - self.last_edit)))


async def write_answer(interaction: discord.Interaction[Any], generator: Generator, result: AskResult,
                       lang: Lang) -> GeneratedAskResult:
    """Stream the model's answer into the reply; return the final (verified or extractive) result."""
    live = LiveReply(interaction, result, lang)
    text = ""
    final: GeneratedAskResult | None = None
    stream = generator.stream(result)
    try:
        async for item in stream:
            if isinstance(item, str):
                text += item
                await live.show(text)
            else:
                final = item
    finally:
        await stream.aclose()
    assert final is not None  # Generator.stream always ends with the final result
    await live.wait_turn()
    return final
