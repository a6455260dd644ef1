"""The real discord.py client against a local Discord stand-in (tests/bot/fake_discord.py): answers
and buttons.

Each test starts the fake server and a ``KijiBot`` on the fake engine, sends interactions over the
gateway as Discord would, and checks what the bot sent back over REST. Teardown checks that every
acknowledgement came within 3 s, that nothing the bot sent broke a Discord limit, and that no task
was left running.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from kiji.bot.client import AnswerCache
from kiji.bot.embeds import quote_text
from kiji.bot.i18n import t
from kiji.bot.markdown import escape, unescape
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import ArticleInfo, AskResult, Quote
from tests.bot.helpers import (
    OFF_TOPIC,
    QUESTION_EN,
    QUESTION_JA,
    Harness,
    assert_quotes_verbatim,
    buttons,
    custom_id,
    embed_of,
    reply,
)


def assert_description_does_not_repeat_quotes(embed: dict[str, Any]) -> None:
    """The description is the short answer; the quotes appear once, in the fields."""
    description = unescape(embed["description"])
    for field in embed["fields"]:
        text, _ = quote_text(field["value"])
        assert text[:15] not in description, (text, description)
    refs = re.findall(r"\d+", " ".join(re.findall(r"\[[\d, ]+\]", description)))
    assert sorted(map(int, refs)) == list(range(1, len(embed["fields"]) + 1))


# --- answering -----------------------------------------------------------------------------------

async def test_login_sync_and_an_english_answer(harness: Harness, engine: Engine) -> None:
    server = harness.server
    paths = [(r.method, r.path) for r in server.requests]
    assert paths[:3] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me"),
                         ("PUT", f"/applications/{server.app_id}/commands")]
    commands = {c["name"]: c for c in server.commands[None]}
    assert set(commands) == {"ask", "sources", "help", "Ask kiji about this message"}
    menu = commands["Ask kiji about this message"]
    assert menu["type"] == 3 and menu["name_localizations"]["ja"] == "kijiにこのメッセージについて聞く"
    # Installable to a server and by a user for their own account (guild 0, user 1).
    assert all(c["integration_types"] == [0, 1] for c in commands.values())
    quotes = next(o for o in commands["ask"]["options"] if o["name"] == "quotes")
    assert (quotes["min_value"], quotes["max_value"]) == (1, 5)
    assert all(o["name"] != "top_k" for o in commands["ask"]["options"])  # the old name is gone
    assert commands["ask"]["description_localizations"]["ja"]
    assert commands["ask"]["contexts"] == [0, 1, 2]

    p = await harness.ask(QUESTION_EN)
    assert p.callback == {"type": 5, "data": {"flags": 64}} and p.ephemeral
    embed = embed_of(p)
    assert embed["title"] == QUESTION_EN and embed["description"].startswith("Found in ")
    assert len(embed["fields"]) == 3  # settings.top_k
    assert all(" · chars " not in f["name"] for f in embed["fields"])
    assert_quotes_verbatim(embed, engine)
    assert_description_does_not_repeat_quotes(embed)
    assert all("/articles/" not in f["value"] for f in embed["fields"])  # no KIJI_PUBLIC_URL: no links
    assert "footer" not in embed  # no index timestamp, no latency: nothing a reader needs
    labels = [b.get("label") or b["emoji"]["name"] for b in buttons(reply(p))]
    assert labels == ["More sources", "👍", "👎"]


async def test_japanese_question_in_a_japanese_client(harness: Harness, engine: Engine) -> None:
    p = await harness.ask(QUESTION_JA, quotes=5, locale="ja")
    embed = embed_of(p)
    assert re.match(r"(記事「|\d+件の記事に書かれています: 「)", embed["description"])
    assert 1 <= len(embed["fields"]) <= 5 and all("文字目" not in f["name"] for f in embed["fields"])
    assert_quotes_verbatim(embed, engine)
    assert_description_does_not_repeat_quotes(embed)
    assert "footer" not in embed
    assert buttons(reply(p))[0]["label"] == "その他の出典"


async def test_quotes_link_to_the_web_reader_with_a_public_url(
        make_harness: Callable[..., Awaitable[Harness]], engine: Engine) -> None:
    harness = await make_harness(public_url="https://kiji.example.org/")
    p = await harness.ask(QUESTION_EN, quotes=5)
    embed = embed_of(p)
    located = assert_quotes_verbatim(embed, engine)
    for field, (article_id, start) in zip(embed["fields"], located, strict=True):
        link = re.search(r"\n\[Read it in the article\]\((\S+)\)$", field["value"])
        assert link, field["value"]
        text, _ = quote_text(field["value"])
        # The link opens the reader at exactly this quote's span.
        assert link.group(1) == (f"https://kiji.example.org/articles/{article_id}"
                                 f"?start={start}&end={start + len(text)}#quote")
    more = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:more:")))
    assert all("](https://kiji.example.org/articles/" in f["value"] for f in embed_of(more)["fields"])


async def test_public_answer_is_visible_to_the_channel(harness: Harness) -> None:
    p = await harness.ask(QUESTION_EN, public=True, quotes=1)
    assert p.callback is not None and p.callback["type"] == 5 and not p.ephemeral
    assert len(embed_of(p)["fields"]) == 1


async def test_a_question_the_articles_do_not_cover(harness: Harness, fake_engine: Engine) -> None:
    assert not fake_engine.ask(OFF_TOPIC).answered, "pick another off-topic question"
    p = await harness.ask(OFF_TOPIC)
    embed = embed_of(p)
    related = fake_engine.ask(OFF_TOPIC).related
    # The decline says so; the closest passages follow, labelled as passages that may not answer.
    assert unescape(embed["description"]) == t("not_covered", "en") + "\n\n" + t("related", "en")
    assert len(embed["fields"]) == len(related) > 0
    assert_quotes_verbatim(embed, fake_engine)
    assert [b["emoji"]["name"] for b in buttons(reply(p))] == ["👍", "👎"]  # no "More sources"
    p = await harness.ask("自転車のパンクの直し方は?")
    assert unescape(embed_of(p)["description"]).startswith(t("not_covered", "ja"))


async def test_direct_message_interaction(harness: Harness, engine: Engine) -> None:
    payload = harness.server.slash("ask", {"question": QUESTION_EN}, guild_id=None, user_id=777)
    assert "user" in payload and "member" not in payload
    p = await harness.send(payload)
    assert_quotes_verbatim(embed_of(p), engine)
    p = await harness.send(harness.server.slash("help", guild_id=None, locale="ja"))
    assert "質問" in embed_of(p)["description"]


async def test_a_maximal_answer_is_accepted(harness: Harness) -> None:
    long_quote = ("とても長い*引用*" * 400)[:3000]
    quotes = [Quote(article_id=f"a{i}", title="タイトル" * 100, text=long_quote, start=0, end=3000,
                    score=1.0, chunk_id=i) for i in range(10)]
    harness.engine.results["max"] = AskResult(
        question="max", language="ja", answered=True, answer="答" * 9000, quotes=quotes[:5],
        more_quotes=quotes[5:], index_version="v" * 500, took_ms=1.0)
    p = await harness.ask("max", quotes=5)
    assert len(embed_of(p)["fields"]) == 5
    more = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:more:")))
    assert len(embed_of(more)["fields"]) == 5  # the fake server rejects anything over a limit


# --- buttons -------------------------------------------------------------------------------------

async def test_more_sources_pages_through_further_quotes(harness: Harness, engine: Engine) -> None:
    p = await harness.ask(QUESTION_JA, quotes=2, locale="ja")
    first = assert_quotes_verbatim(embed_of(p), engine)
    more = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:more:"), locale="ja"))
    assert more.callback is not None and more.callback["type"] == 4 and more.ephemeral
    embed = embed_of(more)
    assert [f["name"].split(".")[0] for f in embed["fields"]] == ["3", "4"]
    second = assert_quotes_verbatim(embed, engine)
    assert not set(first) & set(second)
    again = await harness.send(harness.server.click(reply(more), custom_id(reply(more), "kiji:more:")))
    assert [f["name"].split(".")[0] for f in embed_of(again)["fields"]] == ["5", "6"]


async def test_feedback_votes_are_stored_and_replaced(harness: Harness) -> None:
    p = await harness.ask(QUESTION_EN)
    message = reply(p)
    up, down = custom_id(message, "kiji:vote:up:"), custom_id(message, "kiji:vote:down:")
    answer_id = up.rsplit(":", 1)[1]
    first = await harness.send(harness.server.click(message, up, user_id=1))
    assert reply(first)["content"] == t("vote_saved", "en") and first.ephemeral
    second = await harness.send(harness.server.click(message, down, user_id=1, locale="ja"))
    assert reply(second)["content"] == t("vote_replaced", "ja")
    await harness.send(harness.server.click(message, up, user_id=2))
    rows = harness.bot.feedback.rows(answer_id)
    assert [r.vote for r in rows] == ["down", "up"]
    assert rows[0].question == QUESTION_EN and rows[0].language == "en" and rows[0].answered
    result = harness.bot.answers.get(answer_id).result  # type: ignore[union-attr]
    assert rows[0].quote_ids == [f"{q.article_id}:{q.start}-{q.end}" for q in result.quotes]
    assert "1" not in {r.user_hash for r in rows} and len(rows[0].user_hash) == 64


async def test_buttons_on_an_answer_the_bot_no_longer_holds(harness: Harness) -> None:
    p = await harness.ask(QUESTION_EN)
    harness.bot.answers = AnswerCache()  # as after a restart
    for prefix in ("kiji:more:", "kiji:vote:up:"):
        press = await harness.send(harness.server.click(reply(p), custom_id(reply(p), prefix)))
        assert reply(press)["content"] == t("expired", "en") and press.ephemeral
    assert harness.bot.feedback.rows() == []


async def test_sources_lists_and_pages(harness: Harness, engine: Engine) -> None:
    p = await harness.send(harness.server.slash("sources"))
    embed = embed_of(p)
    assert p.ephemeral and reply(p)["components"] == []
    for article in engine.articles():  # titles, not ids and chunk counts
        assert escape(article.title) in embed["description"] and article.id not in embed["description"]
    harness.engine.articles_list = [
        ArticleInfo(id=f"id{i:02d}", title=f"Article {i}", chunks=i, source="s", chars=1) for i in range(25)]
    p = await harness.send(harness.server.slash("sources", {"page": 2}, locale="ja"))
    assert "2/3" in embed_of(p)["footer"]["text"] and "Article 10" in embed_of(p)["description"]
    nxt = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:src:n:")))
    assert nxt.callback is not None and nxt.callback["type"] == 7
    assert "3/3" in embed_of(nxt)["footer"]["text"] and "Article 24" in embed_of(nxt)["description"]
    assert [b.get("disabled", False) for b in buttons(reply(nxt))] == [False, True]


async def test_help_follows_the_locale(harness: Harness) -> None:
    en = await harness.send(harness.server.slash("help"))
    ja = await harness.send(harness.server.slash("help", locale="ja"))
    assert "/ask" in embed_of(en)["description"] and "question" in embed_of(en)["description"]
    assert "質問" in embed_of(ja)["description"] and en.ephemeral and ja.ephemeral


# --- the message command, the help reply ----------------------------------------------------------

async def test_ask_kiji_about_a_message_answers_its_text_privately(harness: Harness, engine: Engine) -> None:
    payload = harness.server.message_command("Ask kiji about this message", QUESTION_JA, locale="ja")
    p = await harness.send(payload)
    assert p.ephemeral
    embed = embed_of(p)
    assert embed["title"] == QUESTION_JA  # the message's text is the question
    assert_quotes_verbatim(embed, engine)
    labels = [b.get("label") or b["emoji"]["name"] for b in buttons(reply(p))]
    assert "👍" in labels
    empty = await harness.send(harness.server.message_command("Ask kiji about this message", "   "))
    assert reply(empty)["content"] == t("empty_question", "en") and empty.ephemeral


async def test_the_help_reply_has_no_vote_buttons(harness: Harness) -> None:
    p = await harness.ask("hello")
    embed = embed_of(p)
    assert embed["description"].startswith("I answer questions about the articles")
    assert buttons(reply(p)) == []


# --- /ask article: ----------------------------------------------------------------------------------

async def test_article_autocomplete_offers_matching_titles(harness: Harness, engine: Engine) -> None:
    commands = {c["name"]: c for c in harness.server.commands[None]}
    option = next(o for o in commands["ask"]["options"] if o["name"] == "article")
    assert option["autocomplete"] and not option.get("required", False)
    p = await harness.send(harness.server.autocomplete("ask", {"question": "x", "article": "deepseek"}, "article"))
    assert p.callback is not None and p.callback["type"] == 8
    choices = p.callback["data"]["choices"]
    expected = [a for a in engine.articles() if "deepseek" in a.title.casefold()]
    assert [c["value"] for c in choices] == [a.id for a in expected] and len(choices) >= 2
    assert all(len(c["name"]) <= 100 for c in choices)
    everything = await harness.send(harness.server.autocomplete("ask", {"article": ""}, "article"))
    assert len(everything.callback["data"]["choices"]) == len(engine.articles())  # type: ignore[index]


async def test_ask_within_one_article_quotes_only_it(harness: Harness, engine: Engine) -> None:
    target = next(a for a in engine.articles() if a.id.startswith("001_"))
    p = await harness.ask("How much did NVIDIA fall?", article=target.id)
    seen = assert_quotes_verbatim(embed_of(p), engine)
    assert seen and {aid for aid, _ in seen} == {target.id}
    # A title typed whole works too; anything else is a clear private error, and nothing is asked.
    by_title = await harness.ask("How much did NVIDIA fall?", article=target.title.upper(), user_id=77)
    assert {aid for aid, _ in assert_quotes_verbatim(embed_of(by_title), engine)} == {target.id}
    calls = harness.engine.calls
    bad = await harness.ask("How much did NVIDIA fall?", article="no such article", user_id=78)
    assert reply(bad)["content"] == t("unknown_article", "en") and bad.ephemeral
    assert harness.engine.calls == calls
