"""Input formats end to end (read, chunk, index): .txt, .md, .html, .jsonl, .csv, encodings, broken files."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from kiji.corpus.html_extract import extract
from kiji.errors import BuildError
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import (
    current_version,
    load_current,
)
from tests.helpers import SHIPPED, TOPICS, article_text, build

pytestmark = pytest.mark.usefixtures("isolated_env")


# --- input formats ---------------------------------------------------------------------------------

JA_TEXT = (
    "京都の寺院に太陽光パネル\n\n"
    "京都市は市内の寺院の屋根に太陽光パネルを設置する計画を発表した。"
    "計画では二〇三〇年までに百か所の寺院に設置する。"
    "景観への影響を抑えるため、瓦と同じ色のパネルを使う。\n\n"
    "住職の多くは計画に賛成しているが、一部の住民は反対している。"
    "市の担当者は、電力の自給率を高めることが目的だと説明した。"
    "最初の十か所は来年の春に工事を始める予定である。\n"
)

HTML_PAGE = """<!doctype html>
<html><head><title>Site | Midnight bakery</title>
<link rel="canonical" href="https://news.example.com/2024/bakery">
<script>var tracking = "SCRIPTJUNK";</script><style>.nav { color: red }</style></head>
<body>
<nav><a href="/">Home</a> <a href="/about">NAVLINK About us</a></nav>
<header>HEADERJUNK Daily Example News</header>
<article>
<h1>A bakery that opens at midnight</h1>
<p>A small bakery in Osaka only opens between midnight and six in the morning.
The owner used to work night shifts at a hospital.</p>
<aside>ASIDEJUNK Subscribe to our newsletter!</aside>
<p>Its best seller is a <b>curry bread</b> that sells out within two hours. Taxi drivers make up
almost half of the customers.</p>
<p>The bakery has no sign, only a paper lantern by the door. Prices have not changed since it opened
eleven years ago.</p>
</article>
<footer>FOOTERJUNK Copyright 2024 Example News</footer>
<script>console.log("SCRIPTJUNK2")</script>
</body></html>
"""


def test_input_formats_and_broken_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SHIPPED[0], corpus / SHIPPED[0].name)
    (corpus / "plain.txt").write_text(article_text(*TOPICS[0]), encoding="utf-8")
    (corpus / "notes.md").write_text("# Rebuilding a village railway\n\n" + " ".join(TOPICS[2][1]) + "\n",
                                     encoding="utf-8")
    (corpus / "page.html").write_text(HTML_PAGE, encoding="utf-8")
    (corpus / "sjis.txt").write_bytes(JA_TEXT.encode("shift_jis"))
    (corpus / "eucjp.txt").write_bytes(JA_TEXT.replace("京都", "奈良").encode("euc_jp"))
    (corpus / "bom.txt").write_bytes(b"\xef\xbb\xbf" + article_text(*TOPICS[3]).encode("utf-8"))
    records = [
        {"id": "rec-1", "title": "Octopus farming experiment", "url": "https://example.org/octopus",
         "published": "2024-05-01", "text": " ".join(TOPICS[3][1])},
        "{this line is not json",
        {"title": "No id given", "text": "A record without an id gets one from the file name and line. "
                                         "It is about lighthouse keepers on remote islands in Okinawa."},
        {"id": "rec-empty", "text": "   "},
    ]
    (corpus / "feed.jsonl").write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n",
        encoding="utf-8")
    # Broken files: each skipped and named.
    rng = random.Random(1)
    (corpus / "garbage.txt").write_bytes(bytes(rng.randrange(1, 256) for _ in range(3000)))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("\n   \n", encoding="utf-8")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (corpus / "bad-records.jsonl").write_text("[1, 2]\n{\"title\": \"no text\"}\n", encoding="utf-8")
    (corpus / "bad id!.txt").write_text("A perfectly fine article with an unusable file name.\n" * 3)
    (corpus / "data.csv").write_text("a,b\n1,2\n")  # a CSV without the article columns
    # Not corpus files at all: ignored without a word.
    (corpus / "report.pdf").write_bytes(b"%PDF-1.4 binary")
    (corpus / ".hidden.txt").write_text(article_text(*TOPICS[1]))

    index_dir = tmp_path / "index"
    summary = build(corpus, index_dir)
    loaded = load_current(index_dir)
    ids = set(loaded.articles)
    assert ids == {SHIPPED[0].stem, "plain", "notes", "page", "sjis", "eucjp", "bom", "rec-1", "feed-3"}
    assert summary.articles == len(ids)

    skipped = "\n".join(summary.skipped)
    assert len(summary.skipped) == 9, summary.skipped
    assert "garbage.txt: not UTF-8 and no other text encoding could be detected" in skipped
    assert "empty.txt: no article text found" in skipped
    assert "blank.md: no article text found" in skipped
    assert "image.txt: binary file, not text" in skipped
    assert "feed.jsonl:2: invalid JSON" in skipped
    assert "feed.jsonl:4: empty 'text'" in skipped
    assert "bad-records.jsonl: no valid records (2 bad lines" in skipped
    assert "bad id!.txt: invalid article id" in skipped
    assert "data.csv: a CSV needs a header row naming its columns: id,title,url,body" in skipped
    for name in ("report.pdf", "hidden"):
        assert name not in skipped
    assert loaded.manifest["skipped"] == summary.skipped

    # Encodings: Shift_JIS and EUC-JP detected and decoded exactly; a BOM is dropped.
    assert loaded.articles["sjis"].text == JA_TEXT
    assert loaded.articles["sjis"].title == "京都の寺院に太陽光パネル"
    assert loaded.articles["eucjp"].text == JA_TEXT.replace("京都", "奈良")
    assert loaded.articles["bom"].text.startswith("Octopus farming experiment")
    assert loaded.articles["notes"].title == "Rebuilding a village railway"  # no "# "

    # JSONL: title, url and published travel with the record; a missing id is file-line.
    rec = loaded.articles["rec-1"]
    assert (rec.title, rec.url, rec.published) == ("Octopus farming experiment",
                                                   "https://example.org/octopus", "2024-05-01")
    assert loaded.articles["feed-3"].title == "No id given"

    # HTML: page chrome removed; the article text is the extracted text; title and canonical url.
    page = loaded.articles["page"]
    assert page.text == extract(HTML_PAGE).text
    for junk in ("SCRIPTJUNK", "NAVLINK", "HEADERJUNK", "FOOTERJUNK", "ASIDEJUNK", "color: red"):
        assert junk not in page.text
    assert page.title == "A bakery that opens at midnight"
    assert page.url == "https://news.example.com/2024/bakery"
    assert "curry bread that sells out" in page.text

    # Every chunk of every article is a verbatim slice of the stored text.
    for chunk in loaded.chunks:
        assert loaded.articles[chunk.article_id].text[chunk.start:chunk.end] == chunk.text

    # Quotes carry offsets into the extracted/decoded text, and the title/url of their article.
    engine = Engine(index=loaded, embedder=FakeEmbedder())
    for question, aid in [("Which bakery sells curry bread to taxi drivers at midnight?", "page"),
                          ("octopus larvae feeding research farming", "rec-1"),
                          ("京都市は寺院の屋根に太陽光パネルを設置する計画", "sjis")]:
        quotes = [q for q in engine.ask(question, top_k=10).considered if q.article_id == aid]
        assert quotes, question
        article = loaded.articles[aid]
        for q in quotes:
            assert article.text[q.start:q.end] == q.text
            assert (q.title, q.url) == (article.title, article.url)


def test_nothing_indexable(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(b"")
    (corpus / "b.txt").write_bytes(b"\x00\x00")
    with pytest.raises(BuildError, match="nothing could be indexed.*2 files skipped"):
        build(corpus, tmp_path / "index")
    assert current_version(tmp_path / "index") is None
