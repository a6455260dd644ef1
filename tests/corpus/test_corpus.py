"""Sentence splitting, boilerplate removal, titles and chunk offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiji.corpus.articles import Article, derive_title, load_corpus
from kiji.corpus.boilerplate import content_regions, furniture_spans, is_furniture_line
from kiji.corpus.chunker import ChunkParams, chunk_article
from kiji.corpus.sentences import sentence_spans
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_japanese_terminators_full_and_half_width() -> None:
    assert sentences("今日は晴れ。明日は雨！本当？うん!そう?") == ["今日は晴れ。", "明日は雨！", "本当？", "うん!", "そう?"]


def test_closing_brackets_stay_with_their_sentence() -> None:
    text = "彼は「行く。」と言った。『終わり。』次の文。（注記。）最後"
    assert sentences(text) == ["彼は「行く。」と言った。", "『終わり。』", "次の文。", "（注記。）", "最後"]


def test_question_mark_inside_quotes_does_not_split() -> None:
    text = "METAは「あれ?$65billion使う予定だったけど、$20billionで済んじゃった!」となる可能性もある。次。"
    assert sentences(text)[0].endswith("可能性もある。")


def test_numbers_are_not_split() -> None:
    text = "エヌビディアは5.3%下落した。ビットコインは100,500ドルを割り込んだ。"
    assert sentences(text) == ["エヌビディアは5.3%下落した。", "ビットコインは100,500ドルを割り込んだ。"]


def test_english_sentences_and_abbreviations() -> None:
    text = "Shares fell 5.3% on Monday. The U.S. market fell too. Mr. Smith said so! See www.example.org now."
    assert sentences(text) == ["Shares fell 5.3% on Monday.", "The U.S. market fell too.", "Mr. Smith said so!",
                               "See www.example.org now."]


def test_line_breaks_end_sentences_and_punctuation_alone_is_dropped() -> None:
    assert sentences("見出し\n本文です。\n。\n\n次") == ["見出し", "本文です。", "次"]


def test_spans_are_offsets_into_the_original() -> None:
    text = "  前置き。\n\n  本文です！ 後ろ。  "
    for s, e in sentence_spans(text):
        assert text[s:e] == text[s:e].strip() and text[s:e]


def test_boilerplate_lines_and_footer_are_excluded() -> None:
    text = ("Skip to main content\n\nタイトル\n![画像](https://x/y.png)\n3,146 文字\n本文の一文目。\n"
            "Comments\n\nPopular posts from this blog\n\n無関係な投稿。\n")
    kept = "".join(text[s:e] for s, e in content_regions(text))
    assert "タイトル" in kept and "本文の一文目。" in kept
    for junk in ("Skip to main content", "![画像]", "3,146 文字", "Comments", "Popular posts", "無関係な投稿"):
        assert junk not in kept


def test_footer_posts_can_be_kept_by_setting() -> None:
    text = "本文。\nPopular posts from this blog\n無関係な投稿。\n"
    kept = "".join(text[s:e] for s, e in content_regions(text, include_footer_posts=True))
    assert "無関係な投稿。" in kept and "Popular posts" not in kept


def test_title_skips_furniture_and_bylines() -> None:
    assert derive_title("Skip to main content\n\nDeepSeekその②\n本文", "x") == "DeepSeekその②"
    assert derive_title("![見出し画像](https://a/b.jpeg)\nNVIDIAの株価\n本文", "x") == "NVIDIAの株価"
    assert derive_title("著者:山田\n。Ai+Cryptoの流れは急速に進んでいるようだ。ただ、" + "長い" * 50, "x") \
        == "Ai+Cryptoの流れは急速に進んでいるようだ"
    assert derive_title("\n\n", "fallback") == "fallback"


@pytest.fixture(scope="module")
def shipped() -> list[Article]:
    report = load_corpus(SHIPPED_CORPUS_DIR)
    assert not report.errors
    return report.articles


def test_shipped_corpus_is_byte_identical_to_the_files(shipped: list[Article]) -> None:
    # Quote offsets point into the file as written: anyone can check a quote against the file.
    for article in shipped:
        raw = (SHIPPED_CORPUS_DIR / article.source).read_bytes().decode("utf-8")
        assert article.text == raw
        assert article.id == Path(article.source).stem


def test_page_furniture_is_in_no_chunk_and_hidden_by_the_reader(shipped: list[Article], tmp_path: Path) -> None:
    # The shipped files hold image lines and note.com length lines ("3,146 文字").
    spans = {a.id: furniture_spans(a.text) for a in shipped}
    assert sum(map(len, spans.values())) >= 4
    for article in shipped:
        for start, end in spans[article.id]:
            assert is_furniture_line(article.text[start:end])
            for chunk in chunk_article(article, ChunkParams()):
                assert chunk.end <= start or end <= chunk.start or article.text[start:end].strip() not in chunk.text
    body = "本文の一行目です。\n![見出し画像](https://example.com/a.png)\n2,088 文字\n本文の二行目です。\nComments\n"
    (tmp_path / "a.md").write_text("# 題\n" + body, encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(json.dumps({"id": "b", "title": "題", "text": body}, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    for article in load_corpus(tmp_path).articles:
        hidden = furniture_spans(article.text)
        gaps = zip([(0, 0), *hidden], [*hidden, (len(article.text), 0)], strict=True)
        shown = "".join(article.text[e:s] for (_, e), (s, _) in gaps)  # what the reader shows
        assert "見出し画像" not in shown and "2,088 文字" not in shown
        assert "本文の一行目です。\n本文の二行目です。\nComments\n" in shown  # a lone word may be the author's
        assert all("見出し画像" not in c.text and "2,088" not in c.text for c in chunk_article(article, ChunkParams()))
    assert furniture_spans("no furniture\n") == []
    assert is_furniture_line("  1,234 文字  ") and not is_furniture_line("その記事は2,088 文字もある")


def test_shipped_titles(shipped: list[Article]) -> None:
    titles = {a.id: a.title for a in shipped}
    assert titles["000_c3040fd4d25ddece"] == "DeepSeekその②"
    assert titles["004_3d3e6c5de38689e2"].startswith("NVIDIAとMicrosoftの株価")
    assert all("Skip to main content" not in t and not t.startswith("![") for t in titles.values())


def test_chunks_keep_offsets_and_sizes(shipped: list[Article]) -> None:
    params = ChunkParams(min_chars=150, max_chars=400, overlap_sentences=1)
    for article in shipped:
        chunks = chunk_article(article, params)
        assert chunks
        for prev, chunk in zip(chunks, chunks[1:], strict=False):
            # one sentence of overlap inside a region: the next chunk starts at the previous one's last sentence
            if chunk.start < prev.end:
                assert chunk.sentences[0] == prev.sentences[-1]
        for chunk in chunks:
            assert article.text[chunk.start:chunk.end] == chunk.text
            assert len(chunk.text) <= params.max_chars
            for s, e in chunk.sentences:
                assert chunk.start <= s < e <= chunk.end
            for junk in ("Skip to main content", "Popular posts", "文字\n", "![見出し画像]"):
                assert junk not in chunk.text


def test_footer_posts_of_shipped_article_are_not_chunked(shipped: list[Article]) -> None:
    article = next(a for a in shipped if a.id.startswith("000_"))
    text = "".join(c.text for c in chunk_article(article, ChunkParams()))
    assert "テスラのBM-Map" not in text and "クアラルンプール" not in text
    # the author's own off-topic prose elsewhere stays (article 003's chatty opening)
    other = next(a for a in shipped if a.id.startswith("003_"))
    assert "フジテレビ" in "".join(c.text for c in chunk_article(other, ChunkParams()))


def test_overlong_sentence_is_cut_at_soft_breaks() -> None:
    text = "、".join(["とても長い文の一部分です"] * 60) + "。"
    article = Article(id="long", title="t", text=text, source="long.txt")
    chunks = chunk_article(article, ChunkParams(min_chars=50, max_chars=120))
    assert len(chunks) > 5
    assert all(len(c.text) <= 120 and text[c.start:c.end] == c.text for c in chunks)
    assert chunks[0].text.endswith("、")


def test_long_sentence_is_quoted_in_pieces_cut_at_a_comma() -> None:
    clause = "the treaty was signed by the northern provinces after a long winter of talks"
    sentence = ", ".join([clause] * 6) + "."
    text = f"A short opening sentence. {sentence} A short closing sentence."
    article = Article(id="long-en", title="t", text=text, source="long-en.txt")
    spans = [s for c in chunk_article(article, ChunkParams(max_quote_chars=200)) for s in c.sentences]
    pieces = sorted({(s, e) for s, e in spans if text.index(sentence) <= s < text.index(sentence) + len(sentence)})
    assert len(pieces) > 1 and all(e - s <= 200 for s, e in pieces)
    # cut right after a comma, and together the pieces are the whole sentence, nothing lost
    assert all(text[e - 1] == "," for _s, e in pieces[:-1])
    assert "".join(text[s:e] for s, e in pieces).replace(",", ", ").split() == sentence.split()
    # the default cap (300) leaves ordinary sentences whole
    whole = {text[s:e] for c in chunk_article(article, ChunkParams()) for s, e in c.sentences}
    assert "A short opening sentence." in whole


def test_unreadable_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("良い記事です。", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    report = load_corpus(tmp_path)
    assert [a.id for a in report.articles] == ["good"]
    assert sorted(e.source for e in report.errors) == ["bin.md", "empty.txt"]
