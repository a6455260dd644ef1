"""Pure functions from engine results to Discord embeds that Discord always accepts.

Discord rejects a whole message when one embed limit is exceeded, and discord.py does not check, so
every string is fitted here by construction:

* lengths, cuts and escaping follow ``markdown.py`` (UTF-16 lengths, never splitting a character,
  Markdown shown as written);
* a quote is shown as ``「text」``; when it must be cut the ellipsis goes OUTSIDE the brackets
  (``「tex」…``), so what is inside is always a verbatim slice of the article;
* the 6,000-character total is shared out: field names and the footer first, then the quotes (the
  evidence), and the description gives way first;
* the description carries the short answer only (which articles hold it, with the numbers of their
  fields; a generated answer's own text), never the quotes again: the fields show them;
* with a public base URL (``KIJI_PUBLIC_URL``) every quote links to the web reader at its span.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from urllib.parse import quote as urlquote

import discord

from kiji.bot.i18n import Lang, t
from kiji.bot.markdown import ELLIPSIS, dlen, fit, unescape, unmark
from kiji.retrieval.models import ArticleInfo, AskResult, Quote

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
EMBEDS_PER_MESSAGE_MAX = 10
CONTENT_MAX = 2000

#: Quotes shown per embed (an answer or one page of "More sources"); the /ask top_k maximum.
QUOTES_PER_EMBED = 5
#: The answer text keeps at least this much when quotes compete for the 6,000 total.
DESCRIPTION_FLOOR = 600
ARTICLES_PER_PAGE = 10
COLOR = discord.Colour(0x3B82F6)
NOT_ANSWERED_COLOR = discord.Colour(0x9CA3AF)

def fit_content(text: str) -> str:
    """Message content (error replies) within 2,000 characters; plain text, already localized."""
    return fit(text, CONTENT_MAX, markdown=False)


# --- quotes ---------------------------------------------------------------------------------------

def quote_id(quote: Quote) -> str:
    """How feedback rows name a quote: ``article_id:start-end``."""
    return f"{quote.article_id}:{quote.start}-{quote.end}"


def reader_url(base: str, quote: Quote) -> str:
    """The web reader with ``quote`` highlighted: ``{base}/articles/{id}?start=..&end=..#quote``."""
    return f"{base}/articles/{urlquote(quote.article_id, safe='')}?start={quote.start}&end={quote.end}#quote"


def _link_line(quote: Quote, reader_base: str | None, lang: Lang) -> str:
    # The original page at the passage (a text fragment) where the article has a URL.
    original = quote.source_url or quote.url
    if reader_base:
        # Masked links work in field values; the URL is ours (a quoted id), so it holds no ")".
        line = f"[{t('reader_link', lang)}]({reader_url(reader_base, quote)})"
        if original and ")" not in original and " " not in original:
            both = f"{line} · [{t('original_link', lang)}]({original})"
            if dlen(both) <= 400:
                return both
        return line
    if original and dlen(original) <= 300:
        return original
    if quote.url and dlen(quote.url) <= 300:
        return quote.url
    return ""


def quote_value(quote: Quote, limit: int = FIELD_VALUE_MAX, *, reader_base: str | None = None,
                lang: Lang = "en") -> str:
    """``「quote」`` (escaped), cut inside the brackets with the ellipsis outside when too long;
    on a second line, when there is room, a link to the reader at the quote (with
    ``reader_base``), else the article's URL."""
    suffix = ""
    link = _link_line(quote, reader_base, lang)
    if link and dlen(link) <= 400 and limit >= dlen(link) + 60:
        suffix = "\n" + link
    glosses = gloss_line(quote)
    if glosses and limit >= dlen(suffix) + dlen(glosses) + 120:
        suffix = "\n" + glosses + suffix
    body = fit(quote.text, limit - dlen(suffix), prefix="「", closing="」", bold=quote.highlights)
    return body + suffix


#: Discord's subtext: the glosses of a quote in the other language, small, under it.
GLOSS_PREFIX = "-# "


def gloss_line(quote: Quote) -> str:
    """``-# 株式 share; stock · 下落 decline`` (escaped; empty without glosses)."""
    if not quote.glosses:
        return ""
    line = " · ".join(f"{g.term} {g.gloss}" for g in quote.glosses)
    return fit(line, 300, prefix=GLOSS_PREFIX)


_LINK = r"(?:https?://\S+|\[[^\]\n]*\]\(https?://[^)\s]+\))"
_LINK_LINE = re.compile(rf"{_LINK}(?: · {_LINK})?")


def quote_text(value: str) -> tuple[str, bool]:
    """The article text inside a field value written by ``quote_value``, and whether it was cut."""
    body = value
    for _ in range(2):  # drop the link line and the glosses line quote_value appends
        head, sep, tail = body.rpartition("\n")
        if sep and (_LINK_LINE.fullmatch(tail) or tail.startswith(GLOSS_PREFIX)) and (
                head.endswith(("」", "」" + ELLIPSIS)) or head.rpartition("\n")[2].startswith(GLOSS_PREFIX)):
            body = head
    body = unmark(body)
    cut = body.endswith("」" + ELLIPSIS)
    if cut:
        body = body[: -len(ELLIPSIS)]
    if not (body.startswith("「") and body.endswith("」")):
        raise ValueError("not a quote value")
    return unescape(body[1:-1]), cut


def quote_name(number: int, quote: Quote, lang: Lang, *, same_article: bool = False) -> str:
    """``1. Title``; a further quote of the article just named says so instead of repeating its
    title; one clearly weaker than the first is labelled "also relevant". Offsets are in the
    reader link (and ``kiji ask --verbose``), not in the way."""
    label = t("also_relevant", lang) + " · " if quote.also_relevant else ""
    if same_article:
        return f"{number}. {label}{t('same_article', lang)}"
    return fit(quote.title, FIELD_NAME_MAX, prefix=f"{number}. {label}")


def _water_fill(sizes: Sequence[int], total: int) -> int:
    """The largest cap c with sum(min(s, c)) <= total."""
    if sum(sizes) <= total:
        return max(sizes, default=0)
    lo, hi = 0, max(sizes)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(s, mid) for s in sizes) <= total:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _quotes_embed(title: str, description: str | None, quotes: Sequence[Quote], *, first_number: int,
                  footer: str, lang: Lang, colour: discord.Colour,
                  reader_base: str | None = None) -> discord.Embed:
    quotes = list(quotes)[:min(QUOTES_PER_EMBED, FIELDS_MAX)]
    title = fit(title, TITLE_MAX)
    footer = fit(footer, FOOTER_MAX, markdown=False) if footer else ""
    names = [quote_name(first_number + i, q, lang, same_article=i > 0 and quotes[i - 1].article_id == q.article_id)
             for i, q in enumerate(quotes)]
    available = TOTAL_MAX - dlen(title) - dlen(footer) - sum(dlen(n) for n in names)
    desc_natural = dlen(fit(description, DESCRIPTION_MAX)) if description else 0
    values = [quote_value(q, reader_base=reader_base, lang=lang) for q in quotes]
    sizes = [dlen(v) for v in values]
    if desc_natural + sum(sizes) > available:
        # Quotes keep priority; the answer (a summary of the same quotes) shrinks to its floor first.
        desc_budget = max(min(desc_natural, DESCRIPTION_FLOOR), available - sum(sizes))
        cap = _water_fill(sizes, available - desc_budget)
        values = [quote_value(q, max(cap, 16), reader_base=reader_base, lang=lang) if s > cap else v
                  for q, v, s in zip(quotes, values, sizes, strict=True)]
        desc_budget = available - sum(dlen(v) for v in values)
    else:
        desc_budget = DESCRIPTION_MAX
    embed = discord.Embed(title=title, colour=colour)
    if description:
        embed.description = fit(description, max(1, min(DESCRIPTION_MAX, desc_budget)))
    for name, value in zip(names, values, strict=True):
        embed.add_field(name=name, value=value, inline=False)
    if footer:
        embed.set_footer(text=footer)
    return embed


#: Article titles in the short answer are cut here: the fields show them whole.
SHORT_TITLE_MAX = 80


def short_answer(result: AskResult) -> str:
    """The embed's description, in the answer's language, without repeating the quotes.

    A generated answer (``answer_mode == "generated"``, the LLM answers) is already short and
    cites [n]; the extractive answer is the quotes themselves, so the description names the
    articles that hold the answer with the numbers of their quote fields instead.
    """
    lang = result.language
    if not result.answered or not result.quotes:
        return result.answer or t("not_covered", lang)
    if getattr(result, "answer_mode", None) == "generated":
        return result.answer
    refs: dict[str, list[int]] = {}
    titles: dict[str, str] = {}
    for number, quote in enumerate(result.quotes, start=1):
        refs.setdefault(quote.article_id, []).append(number)
        titles.setdefault(quote.article_id, fit(quote.title, SHORT_TITLE_MAX, markdown=False))

    def numbers(article_id: str) -> str:
        return "[" + ", ".join(str(n) for n in refs[article_id]) + "]"

    if len(refs) == 1:
        (only,) = refs
        text = t("found_in_one", lang, title=titles[only], refs=numbers(only))
    else:
        items = t("found_joiner", lang).join(t("found_item", lang, title=titles[a], refs=numbers(a))
                                             for a in refs)
        text = t("found_in_many", lang, count=len(refs), items=items)
    if result.sources_differ:
        text += "\n" + t("sources_differ", lang)
    return text


def answer_embed(result: AskResult, lang: Lang, *, reader_base: str | None = None) -> discord.Embed:
    """The reply to /ask: the question as title, the short answer, one field per quote, a footer.

    ``lang`` (the interaction locale) is for fixed strings; the answer is in the question's language.
    ``reader_base`` (``KIJI_PUBLIC_URL``) links each quote to the web reader.
    """
    # Only what a reader needs: who wrote the answer when a language model is configured. The index
    # version and the latency are for operators (the logs, /readyz, `kiji ask --verbose`).
    footer = _how_written(result, lang).removeprefix(" · ")
    colour = COLOR if result.answered else NOT_ANSWERED_COLOR
    # On a decline, the closest passages, labelled as passages that may not answer.
    quotes = result.quotes if result.answered else result.related
    text = short_answer(result)
    if not result.answered and result.related:
        text += "\n\n" + t("related", lang)
    return _quotes_embed(result.question, text, quotes, first_number=1, footer=footer,
                         lang=lang, colour=colour, reader_base=reader_base)


def draft_embed(result: AskResult, text: str, lang: Lang) -> discord.Embed:
    """The reply while a language model writes the answer: its text so far (not yet checked, and
    labelled so in the footer) above the same quotes the final answer will show."""
    return _quotes_embed(result.question, text + " …", result.quotes, first_number=1,
                         footer=t("writing", lang), lang=lang, colour=COLOR)


def _how_written(result: AskResult, lang: Lang) -> str:
    """With a model configured: a footer note on who wrote the answer (nothing otherwise)."""
    mode = getattr(result, "answer_mode", None)
    if mode == "generated" and result.answered:
        return " · " + t("generated_note", lang)
    if mode == "extractive" and getattr(result, "fallback_reason", None) not in (None, "declined"):
        return " · " + t("fallback_note", lang)
    return ""


def more_sources_embed(question: str, quotes: Sequence[Quote], *, first_number: int, index_version: str,
                       lang: Lang, reader_base: str | None = None) -> discord.Embed:
    """One page of further quotes for the same question (numbering continues the answer's)."""
    return _quotes_embed(f"{t('more_title', lang)}: {question}", None, quotes,
                         first_number=first_number, footer="", lang=lang, colour=COLOR,
                         reader_base=reader_base)


# --- /sources and /help ---------------------------------------------------------------------------

def page_count(total: int, per_page: int = ARTICLES_PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def sources_embed(articles: Sequence[ArticleInfo], page: int, lang: Lang,
                  per_page: int = ARTICLES_PER_PAGE, *, reader_base: str | None = None) -> discord.Embed:
    """Page ``page`` (1-based, clamped) of the article list: each article's title, a link to it in
    the web reader with a public URL (``KIJI_PUBLIC_URL``), else to its original page when it has
    one. Ids and chunk counts are for operators (``kiji index info``, /v1/articles)."""
    pages = page_count(len(articles), per_page)
    page = min(max(1, page), pages)
    embed = discord.Embed(title=t("sources_title", lang), colour=COLOR)
    if not articles:
        embed.description = t("sources_empty", lang)
    else:
        start = (page - 1) * per_page
        lines = []
        for i, a in enumerate(articles[start:start + per_page]):
            title = fit(a.title, 300)
            link = (f"{reader_base}/articles/{urlquote(a.id, safe='')}" if reader_base
                    else a.url if a.url and dlen(a.url) <= 300 and ")" not in a.url else None)
            # 10 lines of at most ~650 characters stay far below the 4,096 description limit.
            lines.append(f"{start + i + 1}. " + (f"[{title}]({link})" if link else f"**{title}**"))
        embed.description = "\n".join(lines)
    embed.set_footer(text=t("sources_footer", lang, count=len(articles), page=page, pages=pages))
    return embed


def help_embed(lang: Lang) -> discord.Embed:
    return discord.Embed(title=t("help_title", lang), description=t("help_body", lang), colour=COLOR)


# --- checks (used by tests; Discord applies the same rules) ---------------------------------------

def embed_total(embed: discord.Embed) -> int:
    data = embed.to_dict()
    total = dlen(data.get("title", "")) + dlen(data.get("description", ""))
    total += dlen(data.get("footer", {}).get("text", "")) + dlen(data.get("author", {}).get("name", ""))
    total += sum(dlen(f["name"]) + dlen(f["value"]) for f in data.get("fields", []))
    return total


def violations(embed: discord.Embed) -> list[str]:
    """Every Discord embed limit this embed breaks (empty when Discord would accept it)."""
    data = embed.to_dict()
    problems = []
    checks = [("title", data.get("title", ""), TITLE_MAX),
              ("description", data.get("description", ""), DESCRIPTION_MAX),
              ("footer", data.get("footer", {}).get("text", ""), FOOTER_MAX)]
    fields = data.get("fields", [])
    for i, f in enumerate(fields):
        checks += [(f"fields[{i}].name", f["name"], FIELD_NAME_MAX), (f"fields[{i}].value", f["value"], FIELD_VALUE_MAX)]
        if not f["name"].strip() or not f["value"].strip():
            problems.append(f"fields[{i}] is empty")
    problems += [f"{name}: {dlen(text)} > {limit}" for name, text, limit in checks if dlen(text) > limit]
    if len(fields) > FIELDS_MAX:
        problems.append(f"{len(fields)} fields > {FIELDS_MAX}")
    if embed_total(embed) > TOTAL_MAX:
        problems.append(f"total {embed_total(embed)} > {TOTAL_MAX}")
    return problems
