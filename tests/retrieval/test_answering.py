"""Answer-quality components, each on its own small data: language, title references, missing
terms, fusion and diversity, quote choice, abstention and the answer text."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from kiji.retrieval.answer.compose import compose, sources_differ
from kiji.retrieval.answer.quotes import make_quotes, order_sentences
from kiji.retrieval.answer.signals import Sentence, asks_for_number
from kiji.retrieval.engine import Engine
from kiji.retrieval.language import detect_language
from kiji.retrieval.lexical.bridge import EnglishBridge
from kiji.retrieval.lexical.coverage import CoverageChecker
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from kiji.retrieval.models import Language, Quote
from kiji.retrieval.search.candidates import Candidate, diversify
from kiji.retrieval.search.references import referenced_articles, without_quoted_titles


@pytest.mark.parametrize(("text", "lang"), [
    ("DeepSeekの従業員数は?", "ja"),
    ("ファットモデル仮説ってなに?", "ja"),
    ("How much did TSMC fall?", "en"),
    ("what is 推論モデル?", "en"),
    ("NVIDIA株価下落率", "ja"),
])
def test_language_detection(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize(("text", "default", "lang"), [
    ("😂😂😂", "ja", "ja"), ("?", "ja", "ja"), ("$100", "ja", "ja"), ("😂", "en", "en"),
    ("DeepSeek 😂", "ja", "en"), ("半導体 😂", "en", "ja"),
])
def test_text_in_neither_script_takes_the_default(text: str, default: Language, lang: str) -> None:
    assert detect_language(text, default) == lang


TITLES = {"a": "DeepSeekその②", "b": "AI業界の革新、DeepSeekとは?", "c": "Ai+Cryptoの流れは急速に進んでいる",
          "d": "DeepSeekとStargateの話"}


def test_quoted_title_is_a_reference_and_is_stripped() -> None:
    q = "「DeepSeekとは?」の記事の筆者は何を期待してる?"
    assert referenced_articles(q, TITLES) == {"b": 1.0}
    assert "DeepSeekとは" not in without_quoted_titles(q, TITLES)


def test_distinctive_title_run_needs_an_article_cue() -> None:
    assert referenced_articles("Ai+Cryptoの記事の著者は誰?", TITLES) == {"c": 0.5}
    assert referenced_articles("Ai+Cryptoの市場は?", TITLES) == {}
    # "DeepSeek" is in several titles: naming it names no article
    assert referenced_articles("DeepSeekの記事を書いたのは誰?", TITLES) == {}


@pytest.fixture(scope="module")
def checker() -> CoverageChecker:
    tokenizer = JapaneseTokenizer()
    vocab = set(tokenizer.tokens("OpenAIやAnthropicなどの企業がエヌビディアのGPUとトレーニングで競う。DeepSeekのV3をリリース。中国のマーカス。"))

    class Bridge:
        """Stands in for EnglishBridge's e2k rendering with a fixed table."""

        table = {"anthropic": "アントロピック", "openai": "オープンエーアイ", "navy": "ネイビー", "marcus": "マーカス",
                 "nvidia": "エヌビディア", "deepseek": "ディープシーク", "gpu": "ジーピーユー"}

        def to_katakana(self, word: str) -> str:
            return self.table.get(word, "ズズズズ")

        def katakana_matches(self, kana: str) -> dict[str, float]:
            return {t: 1.0 for t in vocab if t == kana}

        def expand(self, text: str) -> dict[str, float]:
            translations = {"china": "中国", "japan": "日本"}
            found = translations.get(text.lower())
            return {found: 0.8} if found in vocab else {}

    bridge = Bridge()
    return CoverageChecker(vocab, tokenizer, lambda: cast("EnglishBridge", bridge))


def test_missing_specific_terms(checker: CoverageChecker) -> None:
    assert checker.missing("Did the US Navy ban DeepSeek?") == ["Navy"]
    assert checker.missing("OpenAIのo3-miniっていつリリースされた?") == ["o3-mini"]
    assert checker.missing("箱根でおすすめの温泉宿ある?") == ["箱根"]
    assert checker.missing("DeepSeekのR2はいつ出る?") == ["R2"]  # codes are never translated


def test_terms_known_in_another_script_are_not_missing(checker: CoverageChecker) -> None:
    assert checker.missing("アンソロピックは何をしている?") == []  # Anthropic, through e2k
    assert checker.missing("How did Nvidia do?") == []  # エヌビディア in the text
    assert checker.missing("DeepSeek-V3のトレーニングは?") == []  # both parts known
    assert checker.missing("what did the blogger think?") == []  # common words are not checked
    assert checker.missing("What about China's numbers?") == []  # translated by the dictionary
    assert checker.missing("What did Gary Marcus say?") == []  # one part of a name is enough


def _quote(aid: str, text: str, start: int = 0) -> Quote:
    return Quote(article_id=aid, title=f"T{aid}", text=text, start=start, end=start + len(text),
                 score=1.0, chunk_id=0)


def test_sources_differ_only_when_articles_disagree_on_figures() -> None:
    assert sources_differ([_quote("a", "NVIDIAは17%暴落し"), _quote("b", "エヌビディアは5.3%下落し")])
    assert not sources_differ([_quote("a", "NVIDIAは17%暴落し"), _quote("b", "株価は17%下がった")])
    assert not sources_differ([_quote("a", "17%暴落"), _quote("a", "11%下落")])  # one source
    assert not sources_differ([_quote("a", "暴落した"), _quote("b", "5.3%下落")])


def test_compose_names_sources_and_adds_no_figures() -> None:
    quotes = [_quote("a", "NVIDIAは17%暴落した。"), _quote("b", "エヌビディアは5.3%下落した。")]
    ja = compose("ja", quotes, answered=True, differ=True)
    assert "「Ta」" in ja and "「Tb」" in ja and "異なります" in ja
    en = compose("en", quotes, answered=True, differ=False)
    assert en.startswith("According to “Ta”")
    import re
    figures = set(re.findall(r"\d+(?:\.\d+)?", ja + en))
    assert figures <= {"17", "5.3"}
    assert compose("en", quotes, answered=False, differ=False).startswith("The articles don't cover")
    assert "見つかりませんでした" in compose("ja", [], answered=False, differ=False)


def test_a_much_weaker_quote_of_another_article_does_not_speak_in_the_answer() -> None:
    strong, weak = _quote("a", "従業員数は200人。"), _quote("b", "DeepSeekは言語だけ。")
    weak = weak.model_copy(update={"score": strong.score - 5.0})
    answer = compose("ja", [strong, weak], answered=True, differ=False, margin=3.0)
    assert "「Ta」" in answer and "「Tb」" not in answer
    close = weak.model_copy(update={"score": strong.score - 1.0})
    assert "「Tb」" in compose("ja", [strong, close], answered=True, differ=False, margin=3.0)
    # Sources that disagree are all named, however their scores compare.
    assert "「Tb」" in compose("ja", [strong, weak], answered=True, differ=True, margin=3.0)


@pytest.mark.parametrize(("q", "expected"), [
    ("How much did TSMC fall?", True), ("Stargateの最初の投資額っていくら?", True),
    ("nasdaq futures had their biggest drop since when?", True), ("DeepSeekってオープンソースなの?", False),
    ("why is nokia mentioned?", False)])
def test_number_questions(q: str, expected: bool) -> None:
    assert asks_for_number(q) is expected


def test_diversify_caps_one_article(fake_engine: Engine) -> None:
    index = fake_engine.index
    by_article: dict[str, list[int]] = {}
    for i, c in enumerate(index.chunks):
        by_article.setdefault(c.article_id, []).append(i)
    first, second = list(by_article)[:2]
    ranked = [Candidate(i, 0.9, 0.0, 1.0 - n * 0.01) for n, i in enumerate(by_article[first][:6])]
    ranked += [Candidate(by_article[second][0], 0.5, 0.0, 0.1)]
    picked = diversify(index, ranked, 4, per_article=3)
    assert [index.chunks[c.chunk_id].article_id for c in picked].count(first) == 3
    assert by_article[second][0] in {c.chunk_id for c in picked}
    # with nothing else left, the cap gives way
    assert len(diversify(index, ranked[:6], 5, per_article=2)) == 5


def test_other_sources_close_to_the_best_come_second(fake_engine: Engine) -> None:
    index = fake_engine.index
    sentences = index.sentences
    # sentences long enough to be quoted alone (short ones are extended by their neighbour)
    long_rows = [i for i, (_, s, e) in enumerate(sentences) if e - s >= 20]
    a_rows = [i for i in long_rows if sentences[i][0] == sentences[long_rows[0]][0]][:3]
    b_row = next(i for i in long_rows if sentences[i][0] != sentences[a_rows[0]][0])

    def row(i: int) -> Sentence:
        aid, s, e = sentences[i]
        chunk_id = next(n for n, c in enumerate(index.chunks) if (s, e) in c.sentences and c.article_id == aid)
        return Sentence(i, chunk_id, aid, s, e, 0.9, False, 0.5, 0.5, False, 0.0, 0.0)

    rows = [row(a_rows[0]), row(a_rows[1]), row(a_rows[2]), row(b_row)]
    scores = np.array([5.0, 4.8, 4.7, 3.0])
    order = order_sentences(rows, scores, source_margin=2.5)
    quotes = make_quotes(index, rows, scores, order, limit=3)
    assert quotes[0].article_id == sentences[a_rows[0]][0]
    assert quotes[1].article_id == sentences[b_row][0]  # another source, within the margin
    order = order_sentences(rows, scores, source_margin=1.0)
    quotes = make_quotes(index, rows, scores, order, limit=3)
    assert [q.article_id for q in quotes].count(sentences[a_rows[0]][0]) == 3
    for q in quotes:
        assert index.articles[q.article_id].text[q.start:q.end] == q.text


def test_every_quote_verbatim_over_many_questions(fake_engine: Engine) -> None:
    questions = ["DeepSeekの従業員数は?", "How much did TSMC fall?", "Stargateの投資額は?", "GPUとは?",
                 "「DeepSeekその②」を書いた人って技術者なの?", "why is nokia mentioned?", "ビットコインは?"]
    for q in questions:
        result = fake_engine.ask(q, top_k=10)
        for quote in result.considered:
            assert fake_engine.index.articles[quote.article_id].text[quote.start:quote.end] == quote.text


def test_referenced_article_is_quoted(fake_engine: Engine) -> None:
    result = fake_engine.ask("「DeepSeekその②」を書いた人って技術者なの?")
    assert result.considered[0].article_id.startswith("000_")
