"""The web page's server side on the fake-embedder engine: pages, headers, languages, weight, the
chunks and feedback endpoints, and the key and rate-limit rules they share with the API.
(What the page does in a browser is in tests/e2e/web/.)"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from kiji.api.app import create_app
from kiji.api.routers.feedback import answer_key
from kiji.api.routers.web import STATIC_DIR
from kiji.api.web_strings import STRINGS, choose_lang
from kiji.feedback import FeedbackStore
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.api.helpers import make_settings, serve

PAGE_BUDGET_BYTES = 100_000


def settings_for(tmp_path: Path, fake_index_dir: Path, **overrides: Any) -> Settings:
    return make_settings(fake_index_dir, **{"feedback_db": tmp_path / "feedback.sqlite3", **overrides})


@pytest.fixture()
async def client(fake_engine: Engine, fake_index_dir: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(settings_for(tmp_path, fake_index_dir), engine=fake_engine)) as c:
        yield c


class Assets(HTMLParser):
    """The scripts, styles and icons a page loads, and any inline script with its type."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str | None] = []
        self._in_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.urls.append(a["src"] or "")
            else:
                self.inline_scripts.append(a.get("type"))
        if tag == "link" and a.get("rel") in ("stylesheet", "icon"):
            self.urls.append(a.get("href") or "")


def assets_of(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def config_of(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="kiji-config">(.*?)</script>', html, re.DOTALL)
    assert match, "no config block"
    return json.loads(match.group(1))


# --- pages -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/?q=DeepSeek", "/articles", "/articles/002_d754ccf2217f77a9"])
async def test_pages_carry_a_strict_csp_and_no_inline_script(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assets = assets_of(response.text)
    # The only inline <script> is the JSON data block, which browsers never execute.
    assert assets.inline_scripts == ["application/json"]
    assert re.search(r"<[^>]*\son[a-z]+\s*=", response.text) is None  # no inline event handlers
    for url in assets.urls:
        assert url.startswith("/static/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url


async def test_page_weight_before_the_answer_is_under_100_kb(client: httpx.AsyncClient) -> None:
    for path in ("/", "/articles/002_d754ccf2217f77a9"):
        page = await client.get(path, headers={"accept-language": "ja"})
        total = len(page.content)
        for url in assets_of(page.text).urls:
            total += len((await client.get(url)).content)
        assert total < PAGE_BUDGET_BYTES, (path, total)


async def test_question_in_the_url_is_escaped(client: httpx.AsyncClient) -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    response = await client.get("/", params={"q": evil})
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;' in response.text or 'value="&quot;&gt;&lt;script&gt;' in response.text
    assert config_of(response.text)["q"] == evil  # the script receives it intact, as data
    reader = await client.get("/articles/x", params={"q": evil})
    assert "<script>alert" not in reader.text and "<img src=x" not in reader.text
    odd_id = await client.get("/articles/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert odd_id.status_code == 404 and "<img src=x" not in odd_id.text
    assert config_of(odd_id.text)["article_id"] == "<img src=x onerror=alert(1)>"


async def test_an_unknown_article_is_a_404_page(client: httpx.AsyncClient) -> None:
    missing = await client.get("/articles/no_such_article", params={"start": 1, "end": 5})
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert config_of(missing.text)["article_id"] == "no_such_article"  # the page still says why
    assert missing.headers["content-security-policy"]
    assert (await client.get("/articles/002_d754ccf2217f77a9")).status_code == 200


@pytest.mark.parametrize(("header", "cookie", "switch", "expected"), [
    ("ja,en-US;q=0.9", None, None, "ja"),
    ("en-US,en;q=0.9,ja;q=0.8", None, None, "en"),
    ("fr-FR, ja;q=0.5", None, None, "ja"),
    ("de, fr;q=0.8", None, None, "en"),
    ("ja;q=0, en;q=0.1", None, None, "en"),
    ("ja;q=0.2, en;q=0.9", None, None, "en"),
    ("ja;q=bogus, en", None, None, "en"),
    ("ja-JP", "en", None, "en"),
    ("en", "ja", None, "ja"),
    ("en", "ja", "en", "en"),
    (None, "xx", "zz", "en"),
    ("", None, "ja", "ja"),
])
def test_language_choice(header: str | None, cookie: str | None, switch: str | None, expected: str) -> None:
    assert choose_lang(switch, cookie, header) == expected


async def test_ui_language_follows_accept_language_and_the_switch_sticks(client: httpx.AsyncClient) -> None:
    ja = await client.get("/", headers={"accept-language": "ja-JP,ja;q=0.9"})
    assert '<html lang="ja">' in ja.text and STRINGS["question_label"]["ja"] in ja.text
    assert config_of(ja.text)["strings"]["asking"] == STRINGS["asking"]["ja"]
    en = await client.get("/", headers={"accept-language": "en-GB"})
    assert '<html lang="en">' in en.text and STRINGS["question_label"]["en"] in en.text
    # The switch keeps the question and is remembered for the next pages.
    assert 'href="/?q=DeepSeek&amp;lang=en"' in (await client.get("/?q=DeepSeek")).text
    switched = await client.get("/?q=x&lang=ja", headers={"accept-language": "en"})
    assert '<html lang="ja">' in switched.text and switched.cookies.get("kiji_lang") == "ja"
    later = await client.get("/articles", headers={"accept-language": "en"})
    assert '<html lang="ja">' in later.text


def test_every_string_has_both_languages_and_the_scripts_use_only_known_ones() -> None:
    for key, texts in STRINGS.items():
        assert set(texts) == {"ja", "en"} and all(texts.values()), key
        assert sorted(re.findall(r"\{\w+\}", texts["ja"])) == sorted(re.findall(r"\{\w+\}", texts["en"]))
    used: set[str] = set()
    for script in STATIC_DIR.glob("*.js"):
        code = script.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\("(\w+)"\s*[,)]', code))
        used |= {f"vote_{v}" for v in ("up", "down")} if '"vote_" + vote' in code else set()
        assert ".innerHTML" not in code and "insertAdjacentHTML" not in code and "eval(" not in code
    assert used and used <= set(STRINGS), used - set(STRINGS)


async def test_the_key_panel_appears_only_when_keys_are_set(fake_engine: Engine, fake_index_dir: Path,
                                                             tmp_path: Path) -> None:
    async with serve(create_app(settings_for(tmp_path, fake_index_dir), engine=fake_engine)) as c:
        page = (await c.get("/")).text
        assert 'id="key-panel"' not in page and config_of(page)["needs_key"] is False
    settings = settings_for(tmp_path, fake_index_dir, api_keys="k-123")
    async with serve(create_app(settings, engine=fake_engine)) as c:
        page = (await c.get("/", headers={"accept-language": "en"})).text
        assert 'id="key-panel"' in page and config_of(page)["needs_key"] is True
        assert "sessionStorage" in page and "Authorization: Bearer" in page  # says how the key travels
        assert "k-123" not in page
        # The pages hold no index data, so they need no key; the data behind them does.
        assert (await c.get("/articles/002_d754ccf2217f77a9")).status_code == 200
        assert (await c.get("/v1/articles/002_d754ccf2217f77a9/chunks")).status_code == 401


# --- /v1/articles/{id}/chunks ------------------------------------------------------------------------

async def test_chunks_slice_the_article_text(client: httpx.AsyncClient, fake_engine: Engine) -> None:
    for article in fake_engine.articles():
        body = (await client.get(f"/v1/articles/{article.id}/chunks")).json()
        text = (await client.get(f"/v1/articles/{article.id}")).json()["text"]
        assert body["article_id"] == article.id and body["index_version"] == fake_engine.version
        assert len(body["chunks"]) == article.chunks > 0
        for chunk in body["chunks"]:
            assert text[chunk["start"]:chunk["end"]] == chunk["text"]
            assert fake_engine.index.chunks[chunk["chunk_id"]].article_id == article.id
        starts = [c["start"] for c in body["chunks"]]
        assert starts == sorted(starts)
    missing = await client.get("/v1/articles/nope/chunks")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


# --- /v1/feedback --------------------------------------------------------------------------------------

def vote_body(**overrides: Any) -> dict[str, Any]:
    body = {"question": "DeepSeekとは?", "vote": "up", "quote_ids": ["002_d754ccf2217f77a9:951-1003"],
            "language": "ja", "answered": True, "index_version": "20260101T000000Z-1", "voter": "a" * 32}
    return {**body, **overrides}


async def test_votes_land_in_the_bots_store(client: httpx.AsyncClient, tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    # The bot writes to the same file (same table, same salt) ...
    FeedbackStore(db).vote(answer_id="0123456789abcdef", user_id=42, vote="down", question="bot q",
                           quote_ids=[], language="en", answered=False, index_version="v")
    first = await client.post("/v1/feedback", json=vote_body())
    assert first.status_code == 200 and first.json()["replaced"] is False
    again = await client.post("/v1/feedback", json=vote_body(vote="down"))
    assert again.json() == {"answer_id": first.json()["answer_id"], "replaced": True}
    other = await client.post("/v1/feedback", json=vote_body(voter="b" * 32))
    assert other.json()["replaced"] is False
    rows = FeedbackStore(db).rows()
    assert len(rows) == 3
    web = FeedbackStore(db).rows(first.json()["answer_id"])
    assert sorted(r.vote for r in web) == ["down", "up"]
    row = next(r for r in web if r.vote == "down")
    assert row.question == "DeepSeekとは?" and row.quote_ids == ["002_d754ccf2217f77a9:951-1003"]
    assert row.language == "ja" and row.answered and row.index_version == "20260101T000000Z-1"
    assert "a" * 32 not in row.user_hash and row.user_hash == FeedbackStore(db).user_hash("web:" + "a" * 32)
    assert first.json()["answer_id"] == answer_key("DeepSeekとは?", "20260101T000000Z-1",
                                                   ["002_d754ccf2217f77a9:951-1003"])
    # Another answer (other quotes shown) is another row key.
    declined = await client.post("/v1/feedback", json=vote_body(quote_ids=[], answered=False))
    assert declined.json()["answer_id"] != first.json()["answer_id"]


@pytest.mark.parametrize("bad", [
    {"vote": "meh"}, {"question": "   "}, {"question": ""}, {"quote_ids": ["no-offsets"]},
    {"quote_ids": ["a:1-2 OR 1=1"]}, {"quote_ids": ["a:1-2"] * 31}, {"language": "fr"},
    {"voter": "short"}, {"voter": "has space in it"}, {"answered": "yes"}, {"index_version": "<b>"},
    {"extra": 1}, {"question": "x" * 1001},
])
async def test_bad_votes_are_refused_and_change_nothing(client: httpx.AsyncClient, tmp_path: Path,
                                                        bad: dict[str, Any]) -> None:
    response = await client.post("/v1/feedback", json=vote_body(**bad))
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error"}
    db = tmp_path / "feedback.sqlite3"
    assert not db.exists() or FeedbackStore(db).rows() == []


async def test_feedback_follows_the_api_key_and_rate_limit(fake_engine: Engine, fake_index_dir: Path,
                                                           tmp_path: Path) -> None:
    settings = settings_for(tmp_path, fake_index_dir, api_keys="web-key", rate_limit_per_minute=2)
    async with serve(create_app(settings, engine=fake_engine)) as c:
        assert (await c.post("/v1/feedback", json=vote_body())).status_code == 401
        key = {"Authorization": "Bearer web-key"}
        assert (await c.post("/v1/feedback", json=vote_body(), headers=key)).status_code == 200
        assert (await c.get("/v1/articles", headers=key)).status_code == 200  # one bucket for all of /v1
        limited = await c.post("/v1/feedback", json=vote_body(), headers=key)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # The pages themselves are not counted: they carry no data.
        assert (await c.get("/")).status_code == 200


async def test_an_unwritable_feedback_store_is_a_503_not_a_bug(fake_engine: Engine, fake_index_dir: Path,
                                                               tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = settings_for(tmp_path, fake_index_dir, feedback_db=blocker / "feedback.sqlite3")
    async with serve(create_app(settings, engine=fake_engine)) as c:
        response = await c.post("/v1/feedback", json=vote_body())
        assert response.status_code == 503 and response.json()["error"]["code"] == "feedback_unavailable"
        assert str(tmp_path) not in response.text
        assert (await c.get("/healthz")).status_code == 200


@pytest.mark.parametrize("damage", ["directory", "garbage", "damaged-header"])
async def test_a_feedback_database_that_cannot_be_opened_is_a_503_without_its_path(
        fake_engine: Engine, fake_index_dir: Path, tmp_path: Path, damage: str) -> None:
    # Issue 28, item 8: the store's own SystemFault (with the database's path) was a 500.
    db = tmp_path / "private-store" / "feedback.sqlite3"
    db.parent.mkdir()
    if damage == "directory":
        db.mkdir()
    elif damage == "garbage":
        db.write_bytes(b"not a database " * 200)
    else:
        FeedbackStore(db)
        db.write_bytes(db.read_bytes()[:100] + b"\xff" * 100)  # the header SQLite checks on open
    settings = settings_for(tmp_path, fake_index_dir, feedback_db=db)
    async with serve(create_app(settings, engine=fake_engine)) as c:
        response = await c.post("/v1/feedback", json=vote_body())
        assert response.status_code == 503 and response.json()["error"]["code"] == "feedback_unavailable"
        assert "private-store" not in response.text and "sqlite3" not in response.text
        assert (await c.get("/healthz")).status_code == 200


# --- settings --------------------------------------------------------------------------------------------

def test_public_url_setting() -> None:
    assert Settings(public_url="https://kiji.example.org/").public_url == "https://kiji.example.org"
    assert Settings(public_url="  ").public_url is None
    for bad in ("kiji.example.org", "javascript:alert(1)", "https://a b", "https://x/(y)", "ftp://x"):
        with pytest.raises(ValidationError):
            Settings(public_url=bad)
