"""One index build, one ``kiji serve`` subprocess and one Chromium for all the browser tests.

The server has an API key, so every test goes through the key field the way a user would; each test
gets a fresh browser context (empty storage). A failing test leaves a screenshot in
``var/browser-artifacts/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from tests.e2e.web.harness import API_KEY, ARTIFACTS, CHROMIUM, HOSTILE, Server, Tab, free_port, run_kiji


@pytest.fixture(scope="package")
def server(real_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    corpus.mkdir()
    for article in SHIPPED_CORPUS_DIR.iterdir():
        shutil.copy(article, corpus / article.name)
    (corpus / "hostile.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in HOSTILE) + "\n",
                                          encoding="utf-8")
    port = free_port()
    env = {**os.environ, "KIJI_EMBEDDING_MODEL": str(real_model_dir), "KIJI_CORPUS_DIR": str(corpus),
           "KIJI_INDEX_DIR": str(root / "index"), "KIJI_FEEDBACK_DB": str(root / "feedback.sqlite3"),
           "KIJI_API_KEYS": API_KEY, "KIJI_RATE_LIMIT_PER_MINUTE": "0", "KIJI_WATCH_INDEX": "false",
           "KIJI_ACCESS_LOG": "false", "KIJI_HOST": "127.0.0.1", "KIJI_PORT": str(port)}
    run_kiji(["index", "build"], env, timeout=600)
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


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"no Chromium at {CHROMIUM}: run scripts/setup.sh (installs Debian's chromium) or set KIJI_CHROMIUM")
    with sync_playwright() as p:
        # Debian's build, not one downloaded by `playwright install` (nothing may be downloaded).
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


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
