"""Quotes link to the original page at the passage: ``source_url`` with a ``#:~:text=`` fragment."""

from __future__ import annotations

from urllib.parse import unquote

from kiji.retrieval.fragments import source_link, text_fragment
from kiji.retrieval.models import Quote


def test_a_short_quote_is_matched_whole_and_percent_encoded() -> None:
    frag = text_fragment("Costs rose 3-4%, then fell & stayed\nflat.")
    assert frag == ":~:text=Costs%20rose%203%2D4%25%2C%20then%20fell%20%26%20stayed%20flat."
    assert unquote(frag.removeprefix(":~:text=")) == "Costs rose 3-4%, then fell & stayed flat."


def test_a_long_quote_is_matched_by_its_first_and_last_words() -> None:
    text = ("The city council voted on Tuesday to extend the night bus service to all twelve districts "
            "of the city, starting in March.")
    start, end = text_fragment(text).removeprefix(":~:text=").split(",")
    assert unquote(start) == "The city council voted on" and unquote(end) == "the city, starting in March."
    ja = "対照的にディープシークは、設立から2年も経っておらず、従業員数は200人、開発費は1000万ドル以下だ。" * 2
    start, end = text_fragment(ja).removeprefix(":~:text=").split(",")
    # cut where a word likely ends: after a particle before kanji / katakana, or after punctuation
    assert (unquote(start), unquote(end)) == ("対照的にディープシークは", "1000万ドル以下だ。")


def test_source_url_only_for_http_urls_and_in_the_json() -> None:
    quote = Quote(article_id="a", title="t", text="TSMCは4.5%下落した。", start=0, end=14, score=1.0,
                  url="https://news.example/a#top", chunk_id=0)
    assert quote.source_url == "https://news.example/a#:~:text=TSMC%E3%81%AF4.5%25%E4%B8%8B%E8%90%BD%E3%81%97%E3%81%9F%E3%80%82"
    assert quote.model_dump()["source_url"] == quote.source_url
    assert source_link("javascript:alert(1)", "x") is None and source_link(None, "x") is None
    assert quote.model_copy(update={"url": None}).source_url is None
