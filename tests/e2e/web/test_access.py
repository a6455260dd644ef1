"""The web page in a real browser: Debian's headless Chromium driven by Playwright, against a real
``kiji serve`` subprocess with the real model, over the shipped corpus plus a hostile one (the
fixtures: ``conftest.py``).

Reaching it: the keyboard alone, a 390 px phone, axe-core's scan in light and dark, key and rate-limit
errors explained, and JavaScript's slicing by code points.
"""

from __future__ import annotations

import json
import random
from typing import Literal

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.web.harness import (
    API_KEY,
    ARTIFACTS,
    QUESTION_DECLINED,
    QUESTION_EN,
    QUESTION_HOSTILE,
    Server,
    Tab,
    asked,
    assert_cards_match,
    axe_source,
)

pytestmark = [pytest.mark.model, pytest.mark.browser]


def test_keyboard_alone(tab: Tab) -> None:
    page = tab.open("/")

    def tab_to(selector: str, limit: int = 25) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("a.skip")
    tab_to("#api-key")
    page.keyboard.type(API_KEY)
    page.keyboard.press("Enter")
    # The key panel folds away and the question box has the focus.
    expect(page.locator("#key-panel")).not_to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type(QUESTION_EN)
    with page.expect_response(lambda r: asked(r, QUESTION_EN)) as answer:
        page.keyboard.press("Enter")
    body = answer.value.json()
    assert_cards_match(page, body["quotes"])
    tab_to("ol.quotes.answer .quote-link")
    page.keyboard.press("Enter")
    expect(page.locator("mark#quote")).to_have_text(body["quotes"][0]["text"])
    assert page.evaluate("document.activeElement.id") == "quote"
    tab.assert_inert()


@pytest.mark.parametrize("tab", [{"viewport": {"width": 390, "height": 844}, "locale": "ja-JP",
                                  "is_mobile": True, "has_touch": True, "device_scale_factor": 2}],
                         indirect=True)
def test_a_390_px_phone_screen(tab: Tab) -> None:
    page = tab.open("/")
    tab.give_key()
    tab.ask(QUESTION_HOSTILE)  # long unbroken Latin strings and markup in the quotes
    for path in (None, "reader"):
        if path == "reader":
            page.locator("ol.quotes.answer .quote-link").first.click()
            expect(page.locator("mark#quote")).to_have_count(1)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"horizontal scrolling: content is {width} px wide"
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 16
    page.go_back()
    button = page.locator("#ask-button").bounding_box()
    assert button is not None and button["height"] >= 44 and button["x"] + button["width"] <= 390


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser: Browser, server: Server,
                                           scheme: Literal["light", "dark"]) -> None:
    axe_js = axe_source()
    context = browser.new_context(locale="en-US", color_scheme=scheme, viewport={"width": 1000, "height": 800})
    tab = Tab(context, server)
    try:
        page = tab.open("/")
        tab.give_key()
        findings: dict[str, list[str]] = {}

        def scan(name: str) -> None:
            page.evaluate(axe_js)  # evaluated by the driver: the page's CSP does not apply to it
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            found = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
                     for v in result["violations"]]
            print(f"\naxe, {scheme}, {name}: {found or 'no violations'}")
            findings[name] = [f for f in found if "(serious)" in f or "(critical)" in f]

        scan("ask page")
        body = tab.ask(QUESTION_HOSTILE)
        assert body["sources_differ"]
        page.get_by_role("button", name="Helpful", exact=True).click()
        expect(page.locator(".vote-status")).not_to_be_empty()
        scan("answer with sources differ")
        tab.ask(QUESTION_DECLINED)
        scan("declined")
        tab.ask(QUESTION_EN)
        page.locator(".quote-link").first.click()
        expect(page.locator("mark#quote")).to_have_count(1)
        page.locator("#chunks summary").click()
        scan("reader")
        tab.open("/articles")
        expect(page.locator("#article-list li").first).to_be_visible()
        scan("article list")
        assert all(v == [] for v in findings.values()), findings
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.page.screenshot(path=str(ARTIFACTS / f"axe-{scheme}.png"), full_page=True)
        raise
    finally:
        context.close()


def test_key_errors_and_rate_limits_are_explained(tab: Tab) -> None:
    page = tab.open("/")
    # No key yet: asking says a key is needed and opens the field (nothing is sent).
    page.fill("#q", QUESTION_EN)
    page.press("#q", "Enter")
    expect(page.locator("#status")).to_have_text(
        "This server needs an API key: enter it under “API key”, then try again.")
    # A wrong key is refused by the server.
    page.fill("#api-key", "not-the-key")
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as refused:
        page.press("#api-key", "Enter")  # saving a key asks the pending question again
    assert refused.value.status == 401
    expect(page.locator("#status")).to_have_text("The API key was not accepted: check it under “API key”.")
    # Over the rate limit: the server's 429 and Retry-After, said plainly.
    page.route("**/v1/ask", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "7", "Content-Type": "application/json"},
        body=json.dumps({"error": {"code": "rate_limited", "message": "too many requests"}})))
    page.fill("#api-key", API_KEY)
    page.press("#api-key", "Enter")
    expect(page.locator("#status")).to_have_text("Too many requests: try again in 7 s.")
    page.unroute("**/v1/ask")
    tab.ask(QUESTION_EN)
    expect(page.locator("ol.quotes.answer > li").first).to_be_visible()
    tab.assert_inert()


def test_code_point_offsets_in_javascript(tab: Tab) -> None:
    """The page's slicing matches Python's str slicing on text full of astral characters."""
    page = tab.open("/articles")
    rng = random.Random(13)
    alphabet = ["a", "あ", "𠮷", "😀", "\u200d", "👩", "\u0301", "é", "\n", "<", "&"]
    cases = []
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        cases.append({"text": text, "start": start, "end": end,
                      "expected": [text[:start], text[start:end], text[end:]], "length": len(text)})
    results = page.evaluate("""cases => cases.map(c => ({
        parts: kiji.sliceCodePoints(c.text, c.start, c.end), length: kiji.codePointLength(c.text)}))""", cases)
    for case, result in zip(cases, results, strict=True):
        assert result["parts"] == case["expected"] and result["length"] == case["length"], case
