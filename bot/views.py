"""Buttons under answers and article lists.

They are ``DynamicItem``s: the state a press needs sits in the custom_id (``kiji:more:<answer>:<offset>``,
``kiji:vote:<up|down>:<answer>``, ``kiji:src:<p|n>:<page>``), so the views never time out and need no
per-message registration. A press still works after a restart for /sources pages; for answers the
quotes live in a bounded in-memory cache (``AnswerCache``), and a press on an answer the bot no longer
holds gets a polite "please ask again" instead of a failed interaction. Questions are thus never
written to disk except with a vote.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord

from kiji.bot.client import KijiBot
from kiji.bot.embeds import QUOTES_PER_EMBED, more_sources_embed, page_count, quote_id, sources_embed
from kiji.bot.i18n import Lang, lang_of, t
from kiji.bot.replies import THINKING, defer, report_error, send_private
from kiji.retrieval.models import AskResult


class MoreSourcesButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                        template=r"kiji:more:(?P<answer>[0-9a-f]{16}):(?P<offset>[0-9]{1,3})"):
    def __init__(self, answer_id: str, offset: int, label: str = "More sources") -> None:
        super().__init__(discord.ui.Button(label=label, emoji="📚", style=discord.ButtonStyle.secondary,
                                           custom_id=f"kiji:more:{answer_id}:{offset}"))
        self.answer_id = answer_id
        self.offset = offset

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> MoreSourcesButton:
        return cls(match["answer"], int(match["offset"]), getattr(item, "label", None) or "More sources")

    async def callback(self, interaction: discord.Interaction[KijiBot]) -> None:  # type: ignore[override]
        try:
            await show_more(interaction, self.answer_id, self.offset)
        except Exception as exc:  # dynamic item errors are otherwise only logged by discord.py
            await report_error(interaction, exc)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"kiji:vote:(?P<vote>up|down):(?P<answer>[0-9a-f]{16})"):
    def __init__(self, answer_id: str, vote: str) -> None:
        super().__init__(discord.ui.Button(emoji="👍" if vote == "up" else "👎",
                                           style=discord.ButtonStyle.secondary,
                                           custom_id=f"kiji:vote:{vote}:{answer_id}"))
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VoteButton:
        return cls(match["answer"], match["vote"])

    async def callback(self, interaction: discord.Interaction[KijiBot]) -> None:  # type: ignore[override]
        try:
            await record_vote(interaction, self.answer_id, "up" if self.vote == "up" else "down")
        except Exception as exc:
            await report_error(interaction, exc)


class SourcesPageButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                        template=r"kiji:src:(?P<dir>p|n):(?P<page>[0-9]{1,5})"):
    def __init__(self, direction: str, page: int, label: str = "", disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(label=label or None, emoji="◀️" if direction == "p" else "▶️",
                                           style=discord.ButtonStyle.secondary, disabled=disabled,
                                           custom_id=f"kiji:src:{direction}:{page}"))
        self.page = page

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> SourcesPageButton:
        return cls(match["dir"], int(match["page"]))

    async def callback(self, interaction: discord.Interaction[KijiBot]) -> None:  # type: ignore[override]
        try:
            lang = lang_of(interaction.locale)
            articles = await interaction.client.articles()
            pages = page_count(len(articles))
            page = min(max(1, self.page), pages)
            view = sources_view(page, pages, lang)
            embed = sources_embed(articles, page, lang, reader_base=interaction.client.settings.public_url)
            await interaction.response.edit_message(embed=embed, view=view)
            release(view)
        except Exception as exc:
            await report_error(interaction, exc)


DYNAMIC_ITEMS = (MoreSourcesButton, VoteButton, SourcesPageButton)


def release(view: discord.ui.View | None) -> None:
    """Drop a sent view from discord.py's store at once.

    Presses are routed by custom_id pattern (registered once with ``add_dynamic_items``), so the view
    object has no further use; discord.py would otherwise keep each ephemeral one, with a timer task,
    for 15 minutes. A view of only dynamic items was never indexed by message, so stopping it leaves
    the pattern registrations alone.
    """
    if view is not None:
        view.stop()


def answer_view(answer_id: str, result: AskResult, lang: Lang) -> discord.ui.View | None:
    """More sources and the votes; none under the help reply to input that asks nothing: there is
    no answer to rate."""
    if result.contentless:
        return None
    view = discord.ui.View(timeout=None)
    if result.more_quotes:
        view.add_item(MoreSourcesButton(answer_id, 0, t("button_more", lang)))
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view


def sources_view(page: int, pages: int, lang: Lang) -> discord.ui.View | None:
    if pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesPageButton("p", page - 1, t("button_prev", lang), disabled=page <= 1))
    view.add_item(SourcesPageButton("n", page + 1, t("button_next", lang), disabled=page >= pages))
    return view


async def show_more(interaction: discord.Interaction[KijiBot], answer_id: str, offset: int) -> None:
    """The next quotes for the same question, privately, with a button for the page after."""
    lang = lang_of(interaction.locale)
    cached = interaction.client.answers.get(answer_id)
    if cached is None:
        await send_private(interaction, t("expired", lang))
        return
    result = cached.result
    page = result.more_quotes[offset:offset + min(cached.top_k, QUOTES_PER_EMBED)]
    if not page:
        await send_private(interaction, t("no_more", lang))
        return
    embed = more_sources_embed(result.question, page, first_number=len(result.quotes) + offset + 1,
                               index_version=result.index_version, lang=lang,
                               reader_base=interaction.client.settings.public_url)
    extra: dict[str, Any] = {}
    next_offset = offset + len(page)
    if next_offset < len(result.more_quotes):
        extra["view"] = discord.ui.View(timeout=None).add_item(
            MoreSourcesButton(answer_id, next_offset, t("button_more", lang)))
    await interaction.response.send_message(embed=embed, ephemeral=True, **extra)
    release(extra.get("view"))


async def record_vote(interaction: discord.Interaction[KijiBot], answer_id: str, vote: str) -> None:
    lang = lang_of(interaction.locale)
    bot = interaction.client
    cached = bot.answers.get(answer_id)
    if cached is None:
        await send_private(interaction, t("expired", lang))
        return
    result = cached.result
    # Acknowledge first: the write is quick, but SQLite may wait on a lock and Discord will not.
    await defer(interaction, ephemeral=True)
    replaced = await asyncio.to_thread(
        bot.feedback.vote, answer_id=answer_id, user_id=interaction.user.id,
        vote="up" if vote == "up" else "down", question=result.question,
        quote_ids=[quote_id(q) for q in result.quotes], language=result.language,
        answered=result.answered, index_version=result.index_version)
    await interaction.edit_original_response(content=t("vote_replaced" if replaced else "vote_saved", lang))
    interaction.extras.pop(THINKING, None)
