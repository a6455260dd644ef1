"""Replies that must never fail: the "thinking…" placeholder, a private message in whatever state
the interaction is in, and the one place handler errors end. Commands, buttons and the client's
command tree all reply through these."""

from __future__ import annotations

import logging
import math
from typing import Any

import discord
from discord import app_commands

from kiji.bot.embeds import fit_content
from kiji.bot.i18n import Lang, lang_of, t
from kiji.errors import IndexUnavailable, InvalidInput, KijiError, RateLimited

log = logging.getLogger("kiji.bot")

#: ``interaction.extras`` key: "public"/"private" while a deferred "thinking…" placeholder stands.
THINKING = "kiji_thinking"


async def defer(interaction: discord.Interaction[Any], *, ephemeral: bool) -> None:
    """Acknowledge at once (Discord allows 3 s) with a "thinking…" placeholder to edit later."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    interaction.extras[THINKING] = "private" if ephemeral else "public"


async def send_private(interaction: discord.Interaction[Any], text: str) -> None:
    """Tell only this user ``text``, whatever state the interaction is in; never raises."""
    text = fit_content(text)
    try:
        thinking = interaction.extras.pop(THINKING, None)
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
        elif thinking == "private":
            await interaction.edit_original_response(content=text, embeds=[], view=None)
        elif thinking == "public":
            # Editing would show the error to the channel: drop the placeholder, reply privately.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                pass
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:  # e.g. the 15-minute token expired; nothing more to do
        log.warning("could not reply to interaction %s: HTTP %s (code %s)", interaction.id, exc.status, exc.code)


def error_message(error: BaseException, lang: Lang) -> str:
    """The user-facing text for an error; unexpected ones are logged by the caller."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return t("cooldown", lang, seconds=max(1, math.ceil(error.retry_after)))
    if isinstance(error, RateLimited):
        return t("cooldown", lang, seconds=max(1, math.ceil(error.retry_after)))
    if isinstance(error, InvalidInput):
        return t("invalid_input", lang, detail=error.message)
    if isinstance(error, IndexUnavailable):
        return t("index_unavailable", lang)
    return t("apology", lang)


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The one place handler errors end: a log line and a private reply in the user's language."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    data: dict[str, Any] = dict(interaction.data or {})
    name = interaction.command.qualified_name if interaction.command else str(data.get("custom_id", "?"))
    if isinstance(error, (RateLimited, app_commands.CommandOnCooldown, InvalidInput)):
        log.info("interaction %s (%s): %s", interaction.id, name, type(error).__name__)
    elif isinstance(error, KijiError):
        log.error("interaction %s (%s) failed: %s", interaction.id, name, error)
    else:
        log.error("interaction %s (%s) failed", interaction.id, name, exc_info=error)
    await send_private(interaction, error_message(error, lang_of(interaction.locale)))
