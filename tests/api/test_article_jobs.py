"""``POST /v1/articles`` and ``GET /v1/jobs/{id}``: admin only, 202 with a job id, the page fetched
from a site on 127.0.0.1 under the address rule, the article served once the job succeeds, and a
failed fetch named in the job without any change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiji.api.app import create_app
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import current_version, load_current
from tests.api.helpers import ADMIN, assert_error, make_settings, serve
from tests.corpus.web.pages import NEWS
from tests.corpus.web.site import Site
from tests.corpus.web.site import serve as serve_site
from tests.helpers import build_fake_index, small_corpus


@pytest.fixture()
def site() -> Iterator[Site]:
    with serve_site() as s:
        s.page("/news", NEWS.html.replace("https://news.example/city/night-buses", s.url("/news")))
        yield s


def app_for(tmp_path: Path, **overrides: Any) -> tuple[Any, Path, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    corpus = small_corpus(tmp_path, "corpus", 2)
    index_dir = tmp_path / "index"
    build_fake_index(index_dir, corpus=corpus)
    engine = Engine(index=load_current(index_dir), embedder=FakeEmbedder())
    values: dict[str, Any] = {"corpus_dir": corpus, "admin_token": "admin-secret", "fetch_delay": 0,
                              "fetch_allowed_networks": "127.0.0.0/8"}
    values.update(overrides)
    return create_app(make_settings(index_dir, **values), engine=engine), corpus, index_dir


async def finished(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    for _ in range(600):
        job = (await client.get(url, headers=ADMIN)).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


async def test_a_url_becomes_an_article_through_a_job(site: Site, tmp_path: Path) -> None:
    app, corpus, index_dir = app_for(tmp_path)
    async with serve(app) as c:
        response = await c.post("/v1/articles", json={"url": site.url("/news")}, headers=ADMIN)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["state"] == "queued" and response.headers["location"] == body["status_url"]
        job = await finished(c, body["status_url"])
        assert job["state"] == "succeeded", job
        assert len(job["added"]) == 1 and job["index_version"] == current_version(index_dir)
        for _ in range(100):  # the reload the job asked for
            listing = (await c.get("/v1/articles")).json()
            if listing["index_version"] == job["index_version"]:
                break
            await asyncio.sleep(0.05)
        assert job["added"][0] in {a["id"] for a in listing["articles"]}
        article = (await c.get(f"/v1/articles/{job['added'][0]}")).json()
        assert article["url"] == site.url("/news") and NEWS.body[2] in article["text"]
        # the same page again: unchanged, nothing published
        again = await finished(c, (await c.post("/v1/articles", json={"url": site.url("/news")},
                                                headers=ADMIN)).json()["status_url"])
        assert again["state"] == "succeeded" and again["unchanged"] == job["added"]
        assert again["index_version"] is None
        # title and text
        text_job = await finished(c, (await c.post("/v1/articles", headers=ADMIN, json={
            "title": "Night ferries", "text": "The night ferry now leaves at 23:40 every day."})).json()[
            "status_url"])
        assert text_job["state"] == "succeeded" and text_job["added"][0].startswith("text-")


@pytest.mark.parametrize(("allowed", "path", "code", "words"), [
    ("", "/news", "page_unusable", "a loopback address"),
    ("127.0.0.0/8", "/missing", "page_unusable", "HTTP 404"),
])
async def test_a_failed_job_is_named_and_changes_nothing(site: Site, tmp_path: Path, allowed: str, path: str,
                                                         code: str, words: str) -> None:
    app, corpus, index_dir = app_for(tmp_path, fetch_allowed_networks=allowed)
    before, version = sorted(p.name for p in corpus.iterdir()), current_version(index_dir)
    async with serve(app) as c:
        response = await c.post("/v1/articles", json={"url": site.url(path)}, headers=ADMIN)
        job = await finished(c, response.json()["status_url"])
    assert job["state"] == "failed" and job["error"]["code"] == code and words in job["error"]["message"]
    assert sorted(p.name for p in corpus.iterdir()) == before and current_version(index_dir) == version
    if not allowed:
        assert site.hits == []


async def test_admin_only_and_bad_bodies(tmp_path: Path) -> None:
    app, _, _ = app_for(tmp_path)
    async with serve(app) as c:
        assert_error(await c.post("/v1/articles", json={"url": "http://x.example/"}), 401, "unauthorized")
        assert_error(await c.get("/v1/jobs/abc"), 401, "unauthorized")
        assert_error(await c.get("/v1/jobs/abc", headers=ADMIN), 404, "not_found")
        for body in ({}, {"url": "http://a/", "text": "x"}, {"title": "t", "text": "  "}, {"nope": 1},
                     {"url": "file:///etc/passwd"}, {"url": "http://"}):
            assert_error(await c.post("/v1/articles", json=body, headers=ADMIN), 422)
        assert (await c.get("/v1/articles")).status_code == 200  # the listing is untouched
    app, _, _ = app_for(tmp_path / "b", admin_token=None)
    async with serve(app) as c:
        assert_error(await c.post("/v1/articles", json={"url": "http://x.example/"}, headers=ADMIN), 405)
