"""The slash commands /ask, /sources, /help, and the message command "Ask kiji about this message".

Each handler acknowledges within Discord's 3 seconds: /ask validates (microseconds) and defers before
any retrieval; /sources and /help answer directly from memory. Errors raised here reach
``KijiTree.on_error`` and end as a private apology in the user's language.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import discord
from discord import app_commands

from kiji.bot.client import KijiBot
from kiji.bot.embeds import QUOTES_PER_EMBED, answer_embed, help_embed, page_count, sources_embed
from kiji.bot.i18n import cmd, lang_of, t
from kiji.bot.live import write_answer
from kiji.bot.replies import THINKING, defer
from kiji.bot.views import DYNAMIC_ITEMS, answer_view, release, sources_view
from kiji.errors import RateLimited
from kiji.retrieval.models import ArticleInfo
from kiji.retrieval.validation import is_blank

log = logging.getLogger("kiji.bot")

#: Commands work in servers and in direct messages; the app can be installed to a server or by a
#: user for their own account (then /ask works anywhere they are, answering only them).
contexts = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
installs = app_commands.allowed_installs(guilds=True, users=True)


@contexts
@installs
@app_commands.command(name="ask", description=cmd("Answer a question from the articles, with verbatim quotes",
                                                  "ask.description"))
@app_commands.describe(question=cmd("Your question, in Japanese or English", "ask.question"),
                       quotes=cmd("How many quotes to show (1-5; default 3)", "ask.quotes"),
                       public=cmd("Show the answer to everyone in the channel", "ask.public"),
                       article=cmd("Search only this article (type to pick a title)", "ask.article"))
async def ask(interaction: discord.Interaction[KijiBot], question: str,
              quotes: Optional[app_commands.Range[int, 1, QUOTES_PER_EMBED]] = None,  # noqa: UP045
              public: bool = False, article: Optional[str] = None) -> None:  # noqa: UP045
    lang = lang_of(interaction.locale)
    within = None
    if article is not None:
        within = _article_id(interaction.client.engine.articles(), article)
        if within is None:
            await interaction.response.send_message(t("unknown_article", lang), ephemeral=True)
            return
    # Discord enforces the option ranges in its UI, but a raw interaction can carry anything.
    if quotes is not None and (not isinstance(quotes, int) or isinstance(quotes, bool)
                               or not 1 <= quotes <= QUOTES_PER_EMBED):
        await interaction.response.send_message(t("quotes_range", lang, max=QUOTES_PER_EMBED), ephemeral=True)
        return
    await answer(interaction, question, quotes, public=public, article=within)


#: Discord shows at most 25 choices, each name at most 100 characters.
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100


def _article_id(articles: list[ArticleInfo], given: str) -> str | None:
    """The id a picked choice sends, or the one article whose title is what was typed."""
    if any(a.id == given for a in articles):
        return given
    typed = given.strip().casefold()
    same = [a.id for a in articles if a.title.casefold() == typed]
    return same[0] if len(same) == 1 else None


@ask.autocomplete("article")
async def article_choices(interaction: discord.Interaction[KijiBot], current: str
                          ) -> list[app_commands.Choice[str]]:
    """Titles holding what was typed so far (any case), in index order; the value is the id."""
    typed = (current or "").strip().casefold()
    articles = await interaction.client.articles()
    found = [a for a in articles if typed in a.title.casefold()] if typed else articles
    return [app_commands.Choice(name=a.title if len(a.title) <= CHOICE_NAME_MAX
                                else a.title[:CHOICE_NAME_MAX - 1] + "…", value=a.id)
            for a in found[:CHOICES_MAX] if len(a.id) <= CHOICE_NAME_MAX]


@contexts
@installs
@app_commands.context_menu(name=cmd("Ask kiji about this message", "ask_message.name"))
async def ask_about_message(interaction: discord.Interaction[KijiBot], message: discord.Message) -> None:
    """The message's text as the question; private like /ask."""
    await answer(interaction, message.content, None, public=False)


async def answer(interaction: discord.Interaction[KijiBot], question: object, quotes: int | None, *,
                 public: bool, article: str | None = None) -> None:
    bot = interaction.client
    lang = lang_of(interaction.locale)
    if not isinstance(question, str) or is_blank(question):
        await interaction.response.send_message(t("empty_question", lang), ephemeral=True)
        return
    text = question.strip()
    limit = bot.settings.max_question_chars
    if len(question) > limit:
        await interaction.response.send_message(t("too_long", lang, length=len(question), max=limit),
                                                ephemeral=True)
        return
    wait = bot.cooldown.hit(interaction.user.id)
    if wait > 0:
        raise RateLimited("per-user cooldown", retry_after=wait)

    await defer(interaction, ephemeral=not public)
    k = quotes or min(bot.settings.top_k, QUOTES_PER_EMBED)
    result = await bot.ask(text, k, article)
    if bot.generator is not None and not result.contentless:
        result = await write_answer(interaction, bot.generator, result, lang)
    answer_id = bot.answers.put(result, k)
    view = answer_view(answer_id, result, lang)
    embed = answer_embed(result, lang, reader_base=bot.settings.public_url)
    if view is None:
        await interaction.edit_original_response(embed=embed)
    else:
        await interaction.edit_original_response(embed=embed, view=view)
    release(view)
    interaction.extras.pop(THINKING, None)
    # No question text in logs: it may be personal, and feedback keeps what maintainers need.
    log.info("answered interaction %s: answered=%s quotes=%d lang=%s took=%.0fms mode=%s", interaction.id,
             result.answered, len(result.quotes), result.language, result.took_ms,
             getattr(result, "answer_mode", "extractive"))


@contexts
@installs
@app_commands.command(name="sources", description=cmd("List the articles in the index", "sources.description"))
@app_commands.describe(page=cmd("Page number", "sources.page"))
async def sources(interaction: discord.Interaction[KijiBot],
                  page: Optional[app_commands.Range[int, 1, 10_000]] = None) -> None:  # noqa: UP045
    lang = lang_of(interaction.locale)
    articles = interaction.client.engine.articles()  # in memory: one pass over chunk rows, well under 3 s
    pages = page_count(len(articles))
    current = min(max(1, page if isinstance(page, int) else 1), pages)
    view = sources_view(current, pages, lang)
    embed = sources_embed(articles, current, lang, reader_base=interaction.client.settings.public_url)
    if view is None:
        await interaction.response.send_message(embed=embed, ephemeral=True)
    else:
        await interaction.response.send_message(embed=embed, ephemeral=True, view=view)
    release(view)


@contexts
@installs
@app_commands.command(name="help", description=cmd("How to use this bot", "help.description"))
async def help_command(interaction: discord.Interaction[KijiBot]) -> None:
    await interaction.response.send_message(embed=help_embed(lang_of(interaction.locale)), ephemeral=True)


COMMANDS: tuple[app_commands.Command[Any, ..., None] | app_commands.ContextMenu, ...] = (
    ask, sources, help_command, ask_about_message)


def register(bot: KijiBot) -> None:
    for command in COMMANDS:
        bot.tree.add_command(command, override=True)
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
