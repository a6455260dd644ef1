"""Embed building: the fake engine's real answers and synthetic maximal ones stay within every
Discord limit, and quotes stay verbatim (cut only at the end, ellipsis outside the brackets)."""

from __future__ import annotations

import re

import discord
import pytest

from kiji.bot import embeds
from kiji.bot.embeds import (
    answer_embed,
    help_embed,
    more_sources_embed,
    quote_text,
    quote_value,
    reader_url,
    short_answer,
    sources_embed,
    violations,
)
from kiji.bot.i18n import lang_of, t
from kiji.bot.markdown import ELLIPSIS, dlen, escape, unescape
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import ArticleInfo, AskResult, Language, Quote

MARKDOWN_HEAVY = "**太字** _x_ ~~y~~ ||z|| `c` [link](https://example.com/a_b) > q\n# h\n- li \\ "
FAMILY = "👨\u200d👩\u200d👧\u200d👦"


@pytest.fixture(scope="module")
def engine(fake_engine: Engine) -> Engine:
    return fake_engine  # the shipped engine code over the corpus, with the fast fake embedder


def _field_quotes(embed: discord.Embed) -> list[tuple[str, bool]]:
    return [quote_text(f.value) for f in embed.fields]  # type: ignore[arg-type]


def _assert_verbatim(embed: discord.Embed, quotes: list[Quote], engine: Engine | None = None) -> None:
    shown = _field_quotes(embed)
    assert len(shown) == len(quotes)
    for (text, cut), q in zip(shown, quotes, strict=True):
        assert q.text.startswith(text)
        assert cut == (text != q.text)
        if engine is not None:
            article = engine.index.articles[q.article_id].text
            assert article[q.start:q.start + len(text)] == text


def test_quote_value_short_and_cut() -> None:
    q = Quote(article_id="a", title="T", text="「引用」*です*", start=3, end=11, score=1.0, chunk_id=0)
    assert quote_value(q) == "「" + escape(q.text) + "」"
    assert quote_text(quote_value(q)) == (q.text, False)
    long = q.model_copy(update={"text": "あ" * 3000, "end": 3003})
    value = quote_value(long)
    assert dlen(value) <= 1024 and value.endswith("」" + ELLIPSIS) and value.startswith("「")
    text, cut = quote_text(value)
    assert cut and long.text.startswith(text) and len(text) > 900


def test_quote_value_adds_the_url_when_there_is_room() -> None:
    q = Quote(article_id="a", title="T", text="x" * 2000, start=0, end=2000, score=1.0, chunk_id=0,
              url="https://example.com/article")
    value = quote_value(q)
    # the original page at the passage (its text fragment) when the article has a URL
    assert q.source_url and q.source_url.startswith("https://example.com/article#:~:text=")
    assert value.endswith("\n" + q.source_url) and dlen(value) <= 1024
    assert q.text.startswith(quote_text(value)[0])


# --- answers from the engine ---------------------------------------------------------------------

@pytest.mark.parametrize(("question", "lang"), [("NVIDIAは時間外取引で何%下落しましたか?", "ja"),
                                                ("What is DeepSeek?", "en")])
def test_real_answers_fit_and_quote_verbatim(engine: Engine, question: str, lang: str) -> None:
    result = engine.ask(question, top_k=5)
    assert result.answered and result.language == lang and result.quotes
    for locale in ("ja", "en"):
        embed = answer_embed(result, locale)
        assert violations(embed) == []
        assert embed.title == escape(question) and embed.description
        _assert_verbatim(embed, result.quotes, engine)
        previous = None
        for i, (field, q) in enumerate(zip(embed.fields, result.quotes, strict=False), start=1):
            assert field.name.startswith(f"{i}. ")  # type: ignore[union-attr]
            # One heading per article: its title once, "(same article)" for the quote after.
            if q.article_id == previous:
                assert field.name.endswith(t("same_article", locale))  # type: ignore[union-attr]
            else:
                assert escape(q.title) in field.name  # type: ignore[operator]
            assert (t("also_relevant", locale) in field.name) == q.also_relevant  # type: ignore[operator]
            assert "chars" not in field.name and "文字目" not in field.name  # type: ignore[operator]
            previous = q.article_id
        # The footer carries no index timestamp or latency.
        assert result.index_version not in (embed.footer.text or "") and " ms" not in (embed.footer.text or "")


def test_unanswered_question_says_so_in_its_language(engine: Engine) -> None:
    cases: tuple[tuple[str, Language], ...] = (("What is the recipe for Okonomiyaki?", "en"),
                                                ("自転車のパンクの直し方は?", "ja"))
    for question, lang in cases:
        result = engine.ask(question)
        assert not result.answered
        embed = answer_embed(result, "en")
        assert len(embed.fields) == len(result.related) and violations(embed) == []
        assert embed.description == escape(t("not_covered", lang)) + (
            "\n\n" + escape(t("related", "en")) if result.related else "")
        result.related = []
        embed = answer_embed(result, "en")
        assert embed.fields == [] and embed.description == escape(t("not_covered", lang))


def test_more_sources_numbering_continues(engine: Engine) -> None:
    result = engine.ask("DeepSeekとは何ですか?", top_k=2)
    assert result.more_quotes
    page = result.more_quotes[:2]
    embed = more_sources_embed(result.question, page, first_number=3, index_version=result.index_version,
                               lang="ja")
    assert [f.name.split(".")[0] for f in embed.fields] == ["3", "4"]  # type: ignore[union-attr]
    assert violations(embed) == [] and t("more_title", "ja") in embed.title  # type: ignore[operator]
    _assert_verbatim(embed, page, engine)


# --- synthetic maximal answers -------------------------------------------------------------------

def _maximal(n_quotes: int = 5, quote_chars: int = 3000, title_chars: int = 400) -> AskResult:
    chunk = MARKDOWN_HEAVY + FAMILY + "本文" * 40
    quotes = [Quote(article_id=f"art{i}", title=("長いタイトル*" * 100)[:title_chars],
                    text=(chunk * 100)[:quote_chars], start=10 * i, end=10 * i + quote_chars, score=1.0,
                    chunk_id=i, url=f"https://example.com/{i}" if i % 2 else None) for i in range(n_quotes)]
    return AskResult(question="質問?" * 1000, language="ja", answered=True, answer="答え_" * 5000,
                     quotes=quotes, more_quotes=quotes, index_version="v" * 300, took_ms=123456.7)


@pytest.mark.parametrize("n_quotes", [1, 3, 5])
@pytest.mark.parametrize("quote_chars", [10, 1500, 5000])
def test_maximal_answers_stay_within_every_limit(n_quotes: int, quote_chars: int) -> None:
    result = _maximal(n_quotes, quote_chars)
    for lang in ("ja", "en"):
        embed = answer_embed(result, lang)
        assert violations(embed) == [], violations(embed)
        assert embeds.embed_total(embed) <= embeds.TOTAL_MAX
        assert len(embed.fields) == n_quotes and embed.description
        _assert_verbatim(embed, result.quotes)
        more = more_sources_embed(result.question, result.more_quotes, first_number=6,
                                  index_version=result.index_version, lang=lang)
        assert violations(more) == []
        _assert_verbatim(more, result.more_quotes[:5])


class _Generated(AskResult):
    """An answer written by a language model (the LLM answers issue adds ``answer_mode``)."""

    answer_mode: str = "generated"


def test_the_answer_text_gives_way_before_the_quotes() -> None:
    result = _Generated(**_maximal(5, 5000).model_dump(exclude={"more_quotes"}), more_quotes=[])
    embed = answer_embed(result, "en")
    assert violations(embed) == []
    assert unescape(embed.description or "").startswith("答え_答え_")  # the generated text itself
    assert dlen(embed.description or "") >= embeds.DESCRIPTION_FLOOR
    assert all(dlen(f.value or "") > 500 for f in embed.fields)


# --- the short answer and reader links -----------------------------------------------------------

def test_description_names_the_sources_and_never_repeats_a_quote(engine: Engine) -> None:
    for question in ("NVIDIAは時間外取引で何%下落しましたか?", "What is DeepSeek?", "DeepSeekとは何ですか?"):
        result = engine.ask(question, top_k=5)
        assert result.answered
        description = unescape(answer_embed(result, "en").description or "")
        assert description == short_answer(result)
        for quote in result.quotes:
            assert quote.text not in description and quote.text[:20] not in description
        numbers = [int(n) for n in re.findall(r"\d+", "".join(re.findall(r"\[[\d, ]+\]", description)))]
        assert sorted(numbers) == list(range(1, len(result.quotes) + 1))  # every field is referred to
        for quote in result.quotes:
            assert quote.title[:30] in description
        articles = len({q.article_id for q in result.quotes})
        start = {("ja", True): "記事「", ("ja", False): f"{articles}件の記事に書かれています: 「",
                 ("en", True): "Found in “", ("en", False): f"Found in {articles} articles: “"}
        assert description.startswith(start[(result.language, articles == 1)])


def test_description_keeps_the_sources_differ_note() -> None:
    quotes = [Quote(article_id=a, title=f"T{a}", text=f"{a} fell {p}%", start=0, end=8, score=1.0, chunk_id=0)
              for a, p in (("a", 4), ("b", 5), ("a", 6))]
    result = AskResult(question="q", language="en", answered=True, answer="x", quotes=quotes,
                       sources_differ=True, index_version="v")
    assert short_answer(result) == ("Found in 2 articles: “Ta” [1, 3], “Tb” [2].\n"
                                    "Note that the sources give different figures.")
    result_ja = result.model_copy(update={"language": "ja", "sources_differ": False, "quotes": quotes[:1]})
    assert short_answer(result_ja) == "記事「Ta」[1]に書かれています。"


def test_every_quote_links_to_the_reader_at_its_span(engine: Engine) -> None:
    base = "https://kiji.example.org/sub"
    result = engine.ask("DeepSeekとは何ですか?", top_k=5)
    for lang in ("ja", "en"):
        embed = answer_embed(result, lang, reader_base=base)
        assert violations(embed) == []
        _assert_verbatim(embed, result.quotes, engine)
        for field, quote in zip(embed.fields, result.quotes, strict=True):
            url = f"{base}/articles/{quote.article_id}?start={quote.start}&end={quote.end}#quote"
            assert reader_url(base, quote) == url
            assert (field.value or "").endswith(f"\n[{t('reader_link', lang)}]({url})")
        more = more_sources_embed(result.question, result.more_quotes[:2], first_number=6,
                                  index_version=result.index_version, lang=lang,
                                  reader_base=base)
        assert all("](" + base + "/articles/" in (f.value or "") for f in more.fields)
    # No setting, no reader links (the article's own URL, if any, as before).
    assert all("/articles/" not in (f.value or "") for f in answer_embed(result, "en").fields)


def test_reader_links_quote_odd_ids_and_fit_maximal_answers() -> None:
    odd = Quote(article_id="記事.a-b_1", title="T", text="x", start=3, end=4, score=1.0, chunk_id=0)
    assert reader_url("http://h", odd) == "http://h/articles/%E8%A8%98%E4%BA%8B.a-b_1?start=3&end=4#quote"
    for n_quotes, quote_chars in ((5, 5000), (5, 10), (1, 3000)):
        result = _maximal(n_quotes, quote_chars)
        embed = answer_embed(result, "ja", reader_base="https://kiji.example.org")
        assert violations(embed) == [] and len(embed.fields) == n_quotes
        _assert_verbatim(embed, result.quotes)
        assert all("(https://kiji.example.org/articles/art" in (f.value or "") for f in embed.fields)


# --- /sources and /help --------------------------------------------------------------------------

def _articles(n: int) -> list[ArticleInfo]:
    return [ArticleInfo(id=f"{i:03d}_" + "f" * 16, title=f"記事 {i} " + "*題*" * (200 if i == 3 else 2),
                        chunks=i, source=f"{i}.txt", chars=100) for i in range(n)]


def test_sources_pages(engine: Engine) -> None:
    real = engine.articles()
    embed = sources_embed(real, 1, "ja")
    assert violations(embed) == []
    for a in real:  # titles for people; ids and chunk counts are for operators
        assert escape(a.title) in (embed.description or "") and a.id not in (embed.description or "")
    linked = sources_embed(real, 1, "en", reader_base="https://kiji.example")
    assert violations(linked) == []
    for a in real:
        assert f"[{escape(a.title)}](https://kiji.example/articles/{a.id})" in (linked.description or "")
    many = _articles(25)
    assert embeds.page_count(len(many)) == 3
    last = sources_embed(many, 99, "en")  # clamped to the last page
    assert "page 3/3" in (last.footer.text or "") and "24." in (last.description or "")
    for page in (1, 2, 3):
        assert violations(sources_embed(many, page, "en")) == []
    assert t("sources_empty", "en") in (sources_embed([], 1, "en").description or "")


def test_help_in_both_languages() -> None:
    ja, en = help_embed(lang_of("ja")), help_embed(lang_of("en-GB"))
    assert violations(ja) == [] and violations(en) == []
    assert "/ask" in (ja.description or "") and "質問" in (ja.description or "")
    assert "question" in (en.description or "")


def test_locale_mapping() -> None:
    assert lang_of(discord.Locale.japanese) == "ja" and lang_of("ja") == "ja"
    assert lang_of(discord.Locale.american_english) == "en" and lang_of(None) == "en"
    assert lang_of(discord.Locale.korean) == "en"


def test_a_quote_with_a_url_links_to_the_original_at_the_passage() -> None:
    quote = Quote(article_id="web-a", title="T", text="Officials estimate the cost.", start=0, end=28,
                  score=1.0, url="https://news.example/a", chunk_id=0)
    value = quote_value(quote, reader_base="https://kiji.example.org", lang="en")
    original = "https://news.example/a#:~:text=Officials%20estimate%20the%20cost."
    assert value.endswith(f" · [{t('original_link', 'en')}]({original})")
    assert quote_text(value) == ("Officials estimate the cost.", False)
    assert quote_value(quote, lang="ja").endswith("\n" + original)


def test_highlights_are_bold_and_glosses_a_subtext_line() -> None:
    from kiji.retrieval.models import Gloss

    text = "NVIDIAは*11%*下落した"
    q = Quote(article_id="a", title="T", text=text, start=0, end=len(text), score=1.0, chunk_id=0,
              highlights=[(0, 6), (8, 11)], glosses=[Gloss(term="下落", gloss="decline; fall")])
    value = quote_value(q)
    assert value.startswith("「**NVIDIA**は\\***11%**\\*下落")  # the text's own * stay escaped
    assert value.endswith("\n-# 下落 decline; fall")
    assert quote_text(value) == (text, False)
    # Cut inside a highlight: the bold closes before the bracket, the quote stays a verbatim prefix.
    long = q.model_copy(update={"text": "NVIDIA" + "あ" * 2000, "end": 2006, "highlights": [(0, 1500)]})
    cut = quote_value(long, 300)
    shown, was_cut = quote_text(cut)
    assert was_cut and long.text.startswith(shown) and "**」" in cut and dlen(cut) <= 300


def test_the_engine_answer_embed_bolds_what_matched(engine: Engine) -> None:
    result = engine.ask("How much did NVIDIA's stock fall?")
    embed = answer_embed(result, "en")
    assert not violations(embed)
    assert any("**" in (f.value or "") for f in embed.fields)
    _assert_verbatim(embed, result.quotes or result.related, engine)
