"""The web page in a real browser: Debian's headless Chromium driven by Playwright, against a real
``kiji serve`` subprocess with the real model, over the shipped corpus plus a hostile one (the
fixtures: ``conftest.py``).

Asking and reading: answers in both languages, the quote opened highlighted in its article, votes,
declines, hostile articles kept inert, a language model's answer.
``KIJI_UPDATE_SCREENSHOT=1`` rewrites the README's ``docs/web-page.png`` and ``docs/web-reader.png``.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Route, expect

from kiji.feedback import FeedbackStore
from tests.e2e.web.harness import (
    HOSTILE,
    QUESTION_DECLINED,
    QUESTION_EN,
    QUESTION_HOSTILE,
    QUESTION_JA,
    README_READER_SCREENSHOT,
    README_SCREENSHOT,
    Server,
    Tab,
    asked,
    assert_cards_match,
    open_quote_and_check_highlight,
    transfer_size,
)

pytestmark = [pytest.mark.model, pytest.mark.browser]


@pytest.mark.parametrize("tab", [{"locale": "ja-JP"}], indirect=True)
def test_japanese_question_opens_its_quote_highlighted(tab: Tab) -> None:
    sizes: list[int] = []
    tab.page.on("requestfinished", lambda r: sizes.append(transfer_size(r)))
    page = tab.open("/")
    page.wait_for_load_state("networkidle")
    weight = sum(sizes)
    assert weight < 100_000, f"page weight before the answer: {weight} bytes"
    print(f"\npage weight before the answer: {weight} bytes in {len(sizes)} requests")
    assert page.locator("html").get_attribute("lang") == "ja"
    expect(page.locator("label[for=q]")).to_have_text("質問(日本語または英語)")

    tab.give_key()
    body = tab.ask(QUESTION_JA)
    assert body["answered"] and body["language"] == "ja"
    # The extractive answer's text would repeat the quotes: the page names their sources instead.
    lead = page.locator(".answer-text")
    expect(lead).to_contain_text("記事の記述そのものが答えです")
    expect(lead).to_contain_text(f"「{body['quotes'][0]['title']}」")
    assert body["quotes"][0]["text"] not in (lead.text_content() or "")
    assert_cards_match(page, body["quotes"])
    assert page.url.endswith("/?q=" + "DeepSeek%E3%81%AE%E5%BE%93%E6%A5%AD%E5%93%A1%E6%95%B0%E3%81%AF%3F")

    open_quote_and_check_highlight(page, 0, body["quotes"][0])
    assert page.locator("#article-title").text_content() == body["quotes"][0]["title"]
    if os.environ.get("KIJI_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(README_READER_SCREENSHOT))
    # The reader's "back" link reproduces the question (/?q=...): the same answer again.
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")):
        page.get_by_role("link", name="回答に戻る").click()
    assert_cards_match(page, body["quotes"])
    # Another chunk of the article, from the reader's chunk list, highlights that chunk.
    open_quote_and_check_highlight(page, 1, body["quotes"][1])
    page.locator("#chunks summary").click()
    first_chunk = page.locator("#chunk-list li").first
    chunk_text = first_chunk.locator("p").text_content()
    first_chunk.locator("a").click()
    expect(page.locator("mark#quote")).to_have_text(chunk_text or "")
    tab.assert_inert()


def test_english_question_with_feedback_stored(tab: Tab, server: Server) -> None:
    page = tab.open("/")
    assert page.locator("html").get_attribute("lang") == "en"
    tab.give_key()
    body = tab.ask(QUESTION_EN)
    assert body["answered"] and body["language"] == "en"
    assert_cards_match(page, body["quotes"])
    lead = page.locator(".answer-text")
    expect(lead).to_contain_text("The articles answer in their own words")
    expect(lead).to_contain_text(f"“{body['quotes'][0]['title']}”")
    if os.environ.get("KIJI_UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SCREENSHOT), full_page=True)

    up = page.get_by_role("button", name="Helpful", exact=True)
    down = page.get_by_role("button", name="Not helpful")
    up.click()
    expect(page.locator(".vote-status")).to_have_text("Thanks for the feedback!")
    down.click()
    expect(page.locator(".vote-status")).to_have_text("Your vote was updated.")
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(up).to_have_attribute("aria-pressed", "false")
    rows = [r for r in FeedbackStore(server.feedback_db).rows() if r.question == QUESTION_EN]
    assert len(rows) == 1  # the second vote replaced the first
    row = rows[0]
    assert row.vote == "down" and row.answered and row.language == "en"
    assert row.quote_ids == [f"{q['article_id']}:{q['start']}-{q['end']}" for q in body["quotes"]]
    assert row.index_version == body["index_version"]

    # The language switch: Japanese strings from then on, the question kept.
    page.get_by_role("link", name="日本語").click()
    assert page.locator("html").get_attribute("lang") == "ja"
    expect(page.locator("#q")).to_have_value(QUESTION_EN)
    tab.open("/articles")
    expect(page.locator("h1")).to_have_text("記事一覧")
    tab.assert_inert()


def test_hostile_articles_stay_inert_and_sources_differ(tab: Tab) -> None:
    page = tab.open("/")
    tab.give_key()
    # A question in the URL is put back as text, and asked.
    evil = '<img src=x onerror="window.__xss=7">'
    with page.expect_response(lambda r: asked(r, evil)):
        tab.open("/?q=%3Cimg%20src%3Dx%20onerror%3D%22window.__xss%3D7%22%3E")
    expect(page.locator("#q")).to_have_value(evil)
    expect(page.locator("#answer > *").first).to_be_visible()
    body = tab.ask(QUESTION_HOSTILE)
    assert body["answered"] and body["sources_differ"]
    expect(page.locator(".notice.differ")).to_be_visible()
    assert_cards_match(page, body["quotes"])
    assert {q["article_id"] for q in body["quotes"]} >= {"zorbium-a", "zorbium-b"}
    # The article with an http URL links to its original page at the passage (source_url), and
    # the one with a javascript: URL links nowhere.
    for i, q in enumerate(body["quotes"]):
        original = page.locator("ol.quotes.answer > li").nth(i).locator(".quote-meta a")
        if q["article_id"] == "zorbium-b":
            assert q["source_url"].startswith("https://example.com/zorbium?a=1&b=<2>#:~:text=")
            assert original.get_attribute("href") == q["source_url"]
        elif q["article_id"] == "zorbium-a":
            assert q["source_url"] is None and original.count() == 0
    assert any("<img src=x" in q["text"] for q in body["quotes"])
    # Article text shows as text: no element came out of it.
    for selector in ("#answer img", "#details img", "#details script", "#details b", "a[href^='javascript']"):
        assert page.locator(selector).count() == 0, selector
    assert "<script>" in (page.locator("#details").text_content() or "")

    index = next(i for i, q in enumerate(body["quotes"]) if q["article_id"] == "zorbium-a")
    quote = body["quotes"][index]
    # Astral characters precede the quote: code-point offsets would be off by five in UTF-16.
    assert quote["start"] == HOSTILE[0]["text"].index(quote["text"])
    open_quote_and_check_highlight(page, index, quote)
    assert page.locator("#article-title").text_content() == HOSTILE[0]["title"]
    for selector in ("#article-text img", "#article-text script", "a[href^='javascript']", "main img"):
        assert page.locator(selector).count() == 0, selector
    tab.assert_inert()


def test_a_declined_question_says_so_and_related_passages_are_labelled(tab: Tab, server: Server) -> None:
    page = tab.open("/")
    tab.give_key()
    body = tab.ask(QUESTION_DECLINED)
    assert not body["answered"] and body["quotes"] == [] and body["related"]
    expect(page.locator(".notice.declined")).to_contain_text("Not in the articles")
    assert page.locator(".answer-text").count() == 0
    # The closest passages come with the decline: shown, labelled as passages that may not answer.
    expect(page.get_by_role("heading", name="Nearby passages (they may not answer the question)")).to_be_visible()
    assert_cards_match(page, body["related"], section="related")
    tab.assert_inert()


def test_a_language_models_answer_is_shown_as_written(tab: Tab) -> None:
    """With a model configured the API says ``answer_mode: "generated"``: its text is the answer."""
    page = tab.open("/")
    tab.give_key()
    written = "NVIDIA's shares fell about 17% on 27 January [1]."

    def as_generated(route: Route) -> None:
        real = route.fetch()
        body = real.json()
        body.update(answer_mode="generated", answer=written)
        route.fulfill(response=real, json=body)

    page.route("**/v1/ask", as_generated)
    body = tab.ask(QUESTION_EN)
    assert body["answer_mode"] == "generated"
    expect(page.locator(".answer-text")).to_have_text(written)
    assert_cards_match(page, body["quotes"])


def test_an_english_reader_sees_marks_and_glosses_on_japanese_quotes(tab: Tab) -> None:
    page = tab.open("/")
    tab.give_key()
    body = tab.ask("How much did NVIDIA's stock fall?")
    quotes = body["quotes"] or body["related"]
    section = "answer" if body["quotes"] else "related"
    cards = page.locator(f"ol.quotes.{section} > li")
    expect(cards).to_have_count(len(quotes))
    for i, quote in enumerate(quotes):
        card = cards.nth(i)
        # The page marks exactly what the API's offsets say (code points, as Python counts them).
        marks = card.locator(".quote-link mark.hit").all_text_contents()
        assert marks == [quote["text"][s:e] for s, e in quote["highlights"]]
        assert card.locator(".quote-link").text_content() == quote["text"]
        glosses = card.locator(".glosses")
        assert quote["glosses"], "an English question over Japanese quotes gets glosses"
        expect(glosses).to_contain_text("Key terms:")
        for gloss in quote["glosses"]:
            expect(glosses).to_contain_text(f"{gloss['term']} {gloss['gloss']}")
        expect(glosses.locator("span[lang=ja]").first).to_be_visible()
    assert any("%" in m for m in page.locator("mark.hit").all_text_contents())


def test_the_reader_hides_page_furniture_and_keeps_the_files_offsets(tab: Tab) -> None:
    # The shipped articles keep their image and "N 文字" lines, so quote offsets are the file's own;
    # the reader leaves those lines out and still marks exactly article[start:end].
    from kiji.corpus.articles import load_corpus
    from kiji.corpus.boilerplate import furniture_spans
    from kiji.corpus.chunker import ChunkParams, chunk_article
    from kiji.corpus.shipped import SHIPPED_CORPUS_DIR

    article = next(a for a in load_corpus([SHIPPED_CORPUS_DIR]).articles
                   if any("![" in a.text[s:e] for s, e in furniture_spans(a.text)))
    last_furniture = max(e for _, e in furniture_spans(article.text))
    chunk = next(c for c in chunk_article(article, ChunkParams()) if c.start >= last_furniture)
    page = tab.open(f"/articles/{article.id}?start={chunk.start}&end={chunk.end}#quote")
    tab.give_key()
    mark = page.locator("mark#quote")
    expect(mark).to_have_count(1)
    assert mark.text_content() == article.text[chunk.start:chunk.end]
    shown = page.locator("#article-text").text_content() or ""
    assert "![" not in shown and "文字\n" not in shown
    assert all(article.text[s:e].strip() not in shown for s, e in furniture_spans(article.text))
