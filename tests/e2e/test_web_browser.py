"""The web page in a real browser: Debian's headless Chromium driven by Playwright, against a real
``kiji serve`` subprocess with the real model, over the shipped corpus plus a hostile one.

One index build, one server (with an API key, so every test goes through the key field the way a
user would) and one browser for the module; each test gets a fresh browser context (empty
storage). A failing test leaves a screenshot in ``var/browser-artifacts/``.
``KIJI_UPDATE_SCREENSHOT=1`` rewrites the README's ``docs/web-page.png`` and ``docs/web-reader.png``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Request,
    Route,
    expect,
    sync_playwright,
)

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.feedback import FeedbackStore

pytestmark = [pytest.mark.model, pytest.mark.browser]

CHROMIUM = os.environ.get("KIJI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
API_KEY = "browser-test-key-1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "var" / "browser-artifacts"
README_SCREENSHOT = PROJECT_ROOT / "docs" / "web-page.png"
README_READER_SCREENSHOT = PROJECT_ROOT / "docs" / "web-reader.png"
TIMEOUT_MS = 20_000

QUESTION_JA = "DeepSeekの従業員数は?"
QUESTION_EN = "How many employees does DeepSeek have?"
QUESTION_HOSTILE = "How much did Zorbium shares fall on Monday?"
QUESTION_DECLINED = "ペルーの首都はどこ?"  # the articles never mention ペルー

# Articles whose title, URL and text try to run script, with characters outside the BMP (two
# UTF-16 units each in JavaScript, one code point in Python) before the quoted sentences.
HOSTILE = [
    {"id": "zorbium-a", "title": "Zorbium <script>window.__xss = 1</script> daily",
     "url": "javascript:window.__xss = 2",
     "text": "𠮷野家 😀 👨\u200d👩\u200d👧 Zorbium news from the plant. <img src=x onerror=\"window.__xss = 3\"> "
             "Zorbium shares fell 12% on Monday after the Zorbium plant closed for repairs. "
             "<script>window.__xss = 4</script> The Zorbium company employs 300 people in the town."},
    {"id": "zorbium-b", "title": "Zorbium <img src=x onerror=\"window.__xss = 5\"> weekly",
     "url": "https://example.com/zorbium?a=1&b=<2>",
     "text": "🎉🎉 Another report on the market. Zorbium shares fell 15% on Monday, when the Zorbium "
             "plant closed. <b onmouseover=\"window.__xss = 6\">Investors</b> were surprised by the "
             "Zorbium closure."},
]


# --- the server ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], timeout: float) -> None:
    done = subprocess.run([sys.executable, "-m", "kiji.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"kiji {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


class Server:
    def __init__(self, base: str, feedback_db: Path, log: Path) -> None:
        self.base = base
        self.feedback_db = feedback_db
        self.log = log

    def ask(self, question: str) -> dict[str, Any]:
        """The API's own answer, to compare the page against."""
        request = urllib.request.Request(
            f"{self.base}/v1/ask", data=json.dumps({"question": question}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def server(real_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    corpus.mkdir()
    for article in SHIPPED_CORPUS_DIR.iterdir():
        shutil.copy(article, corpus / article.name)
    (corpus / "hostile.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in HOSTILE) + "\n",
                                          encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "KIJI_EMBEDDING_MODEL": str(real_model_dir), "KIJI_CORPUS_DIR": str(corpus),
           "KIJI_INDEX_DIR": str(root / "index"), "KIJI_FEEDBACK_DB": str(root / "feedback.sqlite3"),
           "KIJI_API_KEYS": API_KEY, "KIJI_RATE_LIMIT_PER_MINUTE": "0", "KIJI_WATCH_INDEX": "false",
           "KIJI_ACCESS_LOG": "false", "KIJI_HOST": "127.0.0.1", "KIJI_PORT": str(port)}
    _run(["index", "build"], env, timeout=600)
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "kiji.cli", "serve"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"kiji serve exited:\n{log.read_text(errors='replace')}"
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"kiji serve not ready:\n{log.read_text(errors='replace')}"
            time.sleep(0.3)
        yield Server(base, root / "feedback.sqlite3", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the browser -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"no Chromium at {CHROMIUM}: run scripts/setup.sh (installs Debian's chromium) or set KIJI_CHROMIUM")
    with sync_playwright() as p:
        # Debian's build, not one downloaded by `playwright install` (nothing may be downloaded).
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Tab:
    """A fresh browser context and page, with what tests need to inspect it."""

    def __init__(self, context: BrowserContext, server: Server) -> None:
        self.context = context
        self.page = context.new_page()
        self.server = server
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # Console errors other than refused requests (the 401 and 429 tests cause those on purpose),
        # e.g. a Content-Security-Policy violation.
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        def dismiss(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", dismiss)
        self.page.set_default_timeout(TIMEOUT_MS)

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.server.base + path)
        return self.page

    def give_key(self) -> None:
        """What a user does on a server with keys: type it into the API key field, press Enter."""
        page = self.page
        expect(page.locator("#key-panel")).to_have_attribute("open", "")
        page.fill("#api-key", API_KEY)
        page.press("#api-key", "Enter")
        expect(page.locator("#key-status")).not_to_be_empty()

    def ask(self, question: str) -> dict[str, Any]:
        """Type the question, press Enter, wait for the page to show the answer; the API's JSON."""
        page = self.page
        page.fill("#q", question)
        with page.expect_response(lambda r: asked(r, question)) as answer:
            page.press("#q", "Enter")
        body: dict[str, Any] = answer.value.json()
        expect(page.locator("#answer > *").first).to_be_visible()
        return body

    def assert_inert(self) -> None:
        assert self.page.evaluate("window.__xss") is None, "injected script ran"
        assert self.dialogs == [] and self.errors == [], (self.dialogs, self.errors)


def asked(response: Any, question: str) -> bool:
    if not response.url.endswith("/v1/ask"):
        return False
    return bool(json.loads(response.request.post_data or "{}").get("question") == question)


@pytest.fixture()
def tab(request: pytest.FixtureRequest, browser: Browser, server: Server) -> Iterator[Tab]:
    options = getattr(request, "param", {})
    context = browser.new_context(**{"locale": "en-US", "viewport": {"width": 1000, "height": 800},
                                     **options})
    tab = Tab(context, server)
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{request.node.name}.png"
        tab.page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failing page: {shot}\nserver log: {server.log}")
    context.close()


def quote_cards(page: Page, section: str = "answer") -> list[dict[str, str]]:
    return page.eval_on_selector_all(f"ol.quotes.{section} > li", """items => items.map(li => ({
        title: li.querySelector('.quote-title').textContent,
        text: li.querySelector('.quote-link').textContent,
        href: li.querySelector('.quote-link').getAttribute('href'),
        meta: li.querySelector('.quote-meta').textContent}))""")


def assert_cards_match(page: Page, quotes: list[dict[str, Any]], section: str = "answer") -> None:
    cards = quote_cards(page, section)
    assert len(cards) == len(quotes) > 0
    for card, quote in zip(cards, quotes, strict=True):
        assert card["title"] == quote["title"] and card["text"] == quote["text"]
        assert f"{quote['score']:.3f}" in card["meta"]
        assert str(quote["start"]) in card["meta"] and str(quote["end"]) in card["meta"]
        assert card["href"].startswith(f"/articles/{quote['article_id']}?start={quote['start']}&end={quote['end']}&q=")


def open_quote_and_check_highlight(page: Page, index: int, quote: dict[str, Any]) -> None:
    page.locator("ol.quotes.answer .quote-link").nth(index).click()
    mark = page.locator("mark#quote")
    expect(mark).to_have_count(1)
    # The highlight is built from the API's offsets; it must be exactly the quoted text.
    assert mark.text_content() == quote["text"]
    full = page.locator("#article-text").text_content() or ""
    assert full.count(quote["text"]) >= 1 and mark.evaluate("m => document.activeElement === m")
    box = mark.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 800
    assert box is not None and 0 <= box["y"] and box["y"] + min(box["height"], 40) <= height  # scrolled into view


# --- the tests ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tab", [{"locale": "ja-JP"}], indirect=True)
def test_japanese_question_opens_its_quote_highlighted(tab: Tab) -> None:
    sizes: list[int] = []
    tab.page.on("requestfinished", lambda r: sizes.append(_transfer_size(r)))
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


def _transfer_size(request: Request) -> int:
    response = request.response()
    if response is None:
        return 0
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    return len(response.body()) + headers


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
    axe_js = _axe_source()
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


def _axe_source() -> str:
    """axe-core's axe.min.js, as shipped inside the axe-playwright-python wheel (no network)."""
    import axe_playwright_python

    path = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    return path.read_text(encoding="utf-8")


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
