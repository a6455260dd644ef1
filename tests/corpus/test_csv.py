"""CSV articles (``corpus/formats/csv.py``), the worked example of the format registry: a build
reads every good row, names and skips a bad one, takes fields past Python's csv limit, and
``kiji index add`` / ``remove`` treat a CSV as a file of many articles."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from kiji.corpus.articles import corpus_files, read_file
from kiji.corpus.formats import registry
from kiji.errors import ArticleError
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import load_current
from tests.cli.fault_walk import ARTICLES
from tests.helpers import REPO_ROOT, TOPICS, build, build_fake_index
from tests.kiji_cli import kiji

pytestmark = pytest.mark.usefixtures("isolated_env")

#: Longer than csv's default field limit (131,072 characters), far under KIJI_MAX_ARTICLE_BYTES.
LONG_BODY = "\n".join(" ".join(TOPICS[1][1]) for _ in range(340))


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def test_a_csv_of_articles_is_indexed_row_by_row(tmp_path: Path) -> None:
    assert len(LONG_BODY) > 131_072  # csv.field_size_limit() of a fresh interpreter
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bakery = ("A bakery that opens at midnight\n\nA small bakery in Osaka opens between midnight and "
              "six in the morning. Its best seller is a curry bread, that sells out within two hours.")
    (corpus / "news.csv").write_text(csv_text([
        ["id", "title", "url", "body"],
        ["bakery", "Midnight bakery", "https://example.org/bakery", bakery],
        ["", "", "", " ".join(TOPICS[3][1])],           # line 5 (the body above spans 3): no id, no title
        ["bad id!", "x", "", "Some text that is long enough."],  # line 6: a bad id
        ["long", "A long one", "", LONG_BODY],           # line 7: past csv's default field limit
        ["short", "Too", "few"],                         # a row with a field missing
        ["empty", "Nothing", "", "   "],
    ]), encoding="utf-8")
    summary = build(corpus, tmp_path / "index")
    loaded = load_current(tmp_path / "index")
    assert set(loaded.articles) == {"bakery", "news-5", "long"}
    skipped = "\n".join(summary.skipped)
    assert "news.csv:6: invalid article id 'bad id!'" in skipped
    # Line 7's body spans 340 lines: the short row starts after it, and is named where it starts.
    assert "news.csv:347: 3 fields, the header has 4" in skipped
    assert "news.csv:348: empty 'body'" in skipped
    assert len(summary.skipped) == 3

    bakery_article = loaded.articles["bakery"]
    assert (bakery_article.title, bakery_article.url, bakery_article.source) == \
        ("Midnight bakery", "https://example.org/bakery", "news.csv:2")
    assert bakery_article.text == bakery  # the field as written: its line breaks and comma kept
    assert loaded.articles["news-5"].title.startswith(TOPICS[3][1][0][:60])  # from the body
    assert loaded.articles["long"].text == LONG_BODY

    engine = Engine(index=loaded, embedder=FakeEmbedder())
    quotes = [q for q in engine.ask("Which bakery sells curry bread at midnight?", top_k=10).considered
              if q.article_id == "bakery"]
    assert quotes and all(bakery[q.start:q.end] == q.text for q in quotes)


@pytest.mark.parametrize(("text", "message"), [
    ("title,text\nx,y\n", "a CSV needs a header row naming its columns: id,title,url,body"),
    ("id,boddy,body\n1,2,3\n", "unknown column(s) 'boddy' in the header"),
    ("id,body,body\n1,2,3\n", "a column named twice"),
    ("", "a CSV needs a header row"),
    ("id,body\n", "no records"),
    ("id,body\n1,\n", "no valid records (1 bad lines; first: f.csv:2: empty 'body')"),
])
def test_a_csv_that_holds_no_article_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ArticleError) as caught:
        read_file(path, errors=[])
    assert message in str(caught.value) and str(caught.value).startswith("f.csv")


def test_a_row_over_the_article_size_limit_is_skipped_by_name(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(csv_text([["id", "body"], ["small", "A small article."], ["big", "x" * 5000]]))
    errors: list[ArticleError] = []
    assert [a.id for a in read_file(path, errors=errors, max_bytes=1000)] == ["small"]
    assert [str(e) for e in errors] == \
        ["f.csv:3: 5,000 bytes, over the limit of 1,000 bytes per article (KIJI_MAX_ARTICLE_BYTES)"]
    with pytest.raises(ArticleError, match="f.csv:3: 5,000 bytes"):  # `index add` refuses it whole
        read_file(path, max_bytes=1000)


def test_the_registry_is_where_suffixes_come_from(tmp_path: Path) -> None:
    suffixes = [s for f in registry.FORMATS for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes)), "two formats claim one suffix"
    assert registry.SUPPORTED_SUFFIXES == tuple(suffixes)
    assert {".txt", ".md", ".html", ".htm", ".jsonl", ".csv"} <= set(suffixes)
    for suffix in suffixes:
        (tmp_path / f"a{suffix.upper()}").write_text("x")
    (tmp_path / "a.pdf").write_text("x")
    assert sorted(p.suffix.lower() for p in corpus_files([tmp_path])) == sorted(suffixes)
    with pytest.raises(ArticleError, match=r"unsupported file type \(use .*\.csv"):
        read_file(tmp_path / "a.pdf")


# --- kiji index add / remove, through the real script ---------------------------------------------

def test_index_add_and_remove_treat_a_csv_as_many_articles(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_fake_index(index_dir, corpus=corpus)
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    incoming = tmp_path / "incoming"
    incoming.mkdir()

    taken = incoming / "taken.csv"  # a row whose id is already an article: refused whole
    taken.write_text(csv_text([["id", "body"], ["fresh", "新しい記事。" * 5], ["chips", "半導体の話。" * 5]]),
                     encoding="utf-8")
    run = kiji("index", "add", taken, *where)
    assert run.code == 6 and "'chips'" in run.err and "chips.txt" in run.err, run.err
    broken = incoming / "broken.csv"  # a bad row: `index add` refuses the file, naming the row
    broken.write_text("id,body\nok,本文です。\nbad id!,本文\n", encoding="utf-8")
    run = kiji("index", "add", broken, *where)
    assert run.code == 6 and "broken.csv:3: invalid article id" in run.err, run.err
    assert sorted(p.name for p in corpus.iterdir()) == ["chips.txt", "deepseek.txt"]

    feed = incoming / "feed.csv"
    feed.write_text(csv_text([["id", "title", "body"], ["bakery", "Midnight bakery", "深夜だけ開くパン屋。" * 5],
                              ["ferry", "Island ferry", "島を結ぶフェリーが再開した。" * 5]]), encoding="utf-8")
    run = kiji("index", "add", feed, "--json", *where)
    assert run.code == 0, run.err
    assert set(load_current(index_dir).articles) == {"chips", "deepseek", "bakery", "ferry"}
    assert json.loads(run.out)["added"] == ["bakery", "ferry"]

    # One row of a many-article file cannot be removed by deleting the file: the others would go too.
    run = kiji("index", "remove", "ferry", *where)
    assert run.code == 2 and "article ferry is one of 2 records in feed.csv; edit that file instead" in run.err
    assert set(load_current(index_dir).articles) == {"chips", "deepseek", "bakery", "ferry"}


def test_the_docs_csv_example_reads_as_it_says(tmp_path: Path) -> None:
    page = (REPO_ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
    example = page.split("## CSV", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "news.csv"
    path.write_text(example, encoding="utf-8")
    articles = read_file(path)
    assert [(a.id, a.url) for a in articles] == [("bakery", "https://example.org/bakery"), ("news-4", None)]
    assert articles[0].title == "A bakery that opens at midnight"
    assert articles[1].title == "A row without id or title. In news.csv, its id is news-4; its title, this line"
