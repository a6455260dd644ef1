"""What a newcomer meets on the web page: the empty page's example questions (each answerable) and
article list, the help reply to "hello" without vote buttons, the reader's 404, the answer's line
in the question's language, a quote copied with its citation, the last questions one click away."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.web.harness import API_KEY, Server, Tab

pytestmark = [pytest.mark.model, pytest.mark.browser]


def test_the_empty_page_offers_answerable_examples_and_the_articles(tab: Tab, server: Server) -> None:
    page = tab.open("/")
    expect(page.locator("#q")).to_be_focused()  # the box has focus on load
    tab.give_key()
    examples = page.locator("ul.examples button")
    expect(examples.first).to_be_visible()
    questions = examples.all_text_contents()
    assert 1 <= len(questions) <= 3
    for question in questions:  # each one is answered by the same server
        assert server.ask(question)["answered"], question
    request = urllib.request.Request(server.base + "/v1/articles", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response_body:
        titles = [a["title"] for a in json.loads(response_body.read())["articles"]]
    expect(page.locator("ul.articles a")).to_have_count(len(titles))
    assert page.locator("ul.articles a").all_text_contents() == titles  # as text, never as markup
    # One click asks it.
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as response:
        examples.first.click()
    assert response.value.json()["answered"]
    expect(page.locator("ol.quotes.answer > li").first).to_be_visible()
    tab.assert_inert()


def test_hello_gets_the_help_reply_with_examples_and_no_votes(tab: Tab) -> None:
    page = tab.open("/")
    tab.give_key()
    body = tab.ask("hello")
    assert body["contentless"] and body["examples"]
    expect(page.locator(".answer-text")).to_contain_text("I answer questions about the articles")
    expect(page.locator("#answer ul.examples button")).to_have_count(len(body["examples"]))
    expect(page.locator(".declined")).to_have_count(0)
    expect(page.locator("button.vote")).to_have_count(0)
    tab.assert_inert()


def test_an_unknown_article_is_a_404(tab: Tab, server: Server) -> None:
    response = tab.page.goto(server.base + "/articles/no_such_article")
    assert response is not None and response.status == 404
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.base + "/articles/no_such_article", timeout=10)
    assert missing.value.code == 404


@pytest.mark.parametrize("tab", [{"locale": "ja-JP"}], indirect=True)
def test_the_answer_line_follows_the_question_and_a_quote_copies_with_its_citation(tab: Tab) -> None:
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = tab.open("/")
    tab.give_key()
    body = tab.ask("How much did TSMC fall?")
    assert body["answered"] and body["language"] == "en"
    # A Japanese page, an English question: the line above the quotes is English.
    expect(page.locator(".answer-text")).to_contain_text("The articles answer in their own words")
    first = body["quotes"][0]
    page.locator("ol.quotes.answer > li").first.get_by_role("button", name="出典付きでコピー").click()
    expect(page.locator("#status")).to_have_text("引用を出典付きでコピーしました。")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert first["text"] in copied and first["title"] in copied
    assert f"/articles/{first['article_id']}?start={first['start']}&end={first['end']}" in copied
    # The question is kept in this browser: the empty page lists it, one click away.
    page.goto(tab.server.base + "/")
    recent = page.locator("ul.recent a")
    expect(recent.first).to_have_text("How much did TSMC fall?")
    assert page.locator("#recent-questions option").first.get_attribute("value") == "How much did TSMC fall?"
    tab.assert_inert()
