"""HTML main-text extraction, measured: kiji's former tag-list extractor (BeautifulSoup, kept here
only for this comparison) against trafilatura, which `.html` files and fetched pages now go
through, on fixture pages shaped like note.com, Hatena Blog, Qiita and an English news site, plus
the format test's bakery page. Per page: the share of the hand-marked body's characters kept
verbatim, and the share of the chrome's characters (navigation, sidebars, share buttons, comments,
recommendations) dropped.

    .venv/bin/python bench/extraction_bench.py
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bs4 import BeautifulSoup  # noqa: E402

from kiji.corpus.html_extract import extract  # noqa: E402
from tests.corpus.web.pages import PAGES, FixturePage  # noqa: E402

_DROP = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe",
         "svg", "button", "template")
_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "tr", "div",
           "section", "article", "br", "dd", "dt", "figcaption")
_SPACES = re.compile(r"[ \t\u00a0]+")


def tag_list(html: str) -> str:
    """kiji's extractor before trafilatura (corpus/html_extract.py until this change), verbatim."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(_DROP):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (_SPACES.sub(" ", line).strip() for line in root.get_text().splitlines())
    return "\n".join(line for line in lines if line)


def score(page: FixturePage, text: str) -> tuple[float, float]:
    flat = " ".join(text.split())
    body = sum(len(p) for p in page.body)
    kept = sum(len(p) for p in page.body if " ".join(p.split()) in flat)
    chrome = sum(len(c) for c in page.chrome)
    dropped = sum(len(c) for c in page.chrome if c not in flat)
    return kept / body, dropped / chrome


def main() -> None:
    extractors: dict[str, Callable[[str], str]] = {"tag list (before)": tag_list,
                                                   "trafilatura (now)": lambda h: extract(h).text}
    print(f"{'page':10} {'extractor':20} {'body kept':>10} {'chrome dropped':>15}")
    totals: dict[str, list[float]] = {name: [0.0, 0.0] for name in extractors}
    for page in PAGES:
        for name, fn in extractors.items():
            kept, dropped = score(page, fn(page.html))
            totals[name][0] += kept / len(PAGES)
            totals[name][1] += dropped / len(PAGES)
            print(f"{page.name:10} {name:20} {kept:>10.0%} {dropped:>15.0%}")
    for name, (kept, dropped) in totals.items():
        print(f"{'mean':10} {name:20} {kept:>10.0%} {dropped:>15.0%}")


if __name__ == "__main__":
    main()
