"""What the browser tests share: the test corpus, the served page's client (``Tab``) and checks.

The fixtures that start the server and the browser are in ``conftest.py`` beside this module.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Dialog, Page, Request, expect

CHROMIUM = os.environ.get("KIJI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
API_KEY = "browser-test-key-1"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
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

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_kiji(args: list[str], env: dict[str, str], timeout: float) -> None:
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


# --- the page --------------------------------------------------------------------------------------

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


def transfer_size(request: Request) -> int:
    response = request.response()
    if response is None:
        return 0
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    return len(response.body()) + headers


def axe_source() -> str:
    """axe-core's axe.min.js, as shipped inside the axe-playwright-python wheel (no network)."""
    import axe_playwright_python

    path = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    return path.read_text(encoding="utf-8")
