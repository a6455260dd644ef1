"""Tokeniser and BM25 of the lexical retrieval side (no network, no shipped articles)."""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from kiji.retrieval.lexical.bm25 import BM25
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer

# --- tokeniser ------------------------------------------------------------------------------------


def test_normalised_forms_meet(tok: JapaneseTokenizer) -> None:
    assert set(tok.tokens("サーバー")) & set(tok.tokens("サーバ"))
    assert "ai" in tok.tokens("ＡＩの時代") and "ai" in tok.tokens("AIの時代")
    assert set(tok.tokens("引越し")) & set(tok.tokens("引っ越し"))
    assert tok.tokens("ＧＰＵ") == tok.tokens("GPU") == ["gpu"]


def test_numbers_are_whole_tokens(tok: JapaneseTokenizer) -> None:
    t = tok.tokens("成長率は5.3%だった")
    assert "5.3" in t and "5.3%" in t
    assert "100500" in tok.tokens("売上は100,500円")
    assert "123.45" in tok.tokens("１２３．４５ドル")  # full-width digits
    big = tok.tokens("初期投資額は1000億ドル")
    assert "1000億" in big and "1000億ドル" in big
    # The question side of the same number finds the document side.
    assert set(tok.tokens("1000億")) <= set(big)


def test_latin_terms_kept_whole_and_lowercased(tok: JapaneseTokenizer) -> None:
    t = tok.tokens("WeWorkとH800、そしてGPT-4oに似たr-1")
    assert {"wework", "h800", "gpt-4o", "gpt", "4o", "r-1", "r1"} <= set(t)
    assert "r1" in tok.tokens("R1")  # r-1 and R1 meet
    assert "openai" in tok.tokens("Open AIの発表")  # capitalised pair glued


def test_function_words_and_punctuation_dropped(tok: JapaneseTokenizer) -> None:
    t = tok.tokens("私はそれをとても良いと思ったのですが、このことは、なぜ?")
    for function_word in ("私", "は", "を", "と", "た", "です", "が", "それ", "この", "とても",
                          "こと", "なぜ", "、", "?", "?"):
        assert function_word not in t
    assert "思う" in t  # content verbs survive, in dictionary form
    assert tok.tokens("  。、!? ") == []
    assert tok.tokens("") == []
    en = tok.tokens("How much did the stock fall?")
    assert "the" not in en and "how" not in en and "did" not in en
    assert "stock" in en and "fall" in en


def test_compound_and_parts(tok: JapaneseTokenizer) -> None:
    t = tok.tokens("中国人投資家")
    assert "投資家" in t and "投資" in t  # the compound and its part
    assert JapaneseTokenizer("C").tokens("投資家") == ["投資家"]


def test_long_text_is_split_for_sudachi(tok: JapaneseTokenizer) -> None:
    text = "株価が下落した。" * 8000  # ~190 kB of UTF-8, far over Sudachi's input limit
    t = tok.tokens(text)
    assert t.count("下落") == 8000


def test_tokenise_from_many_threads(tok: JapaneseTokenizer) -> None:
    texts = [f"エヌビディアの株価が{i}%下落し、サーバー投資が{i * 3}億ドル減った。" for i in range(200)]
    expected = [tok.tokens(x) for x in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(tok.tokens, texts))
    assert got == expected
    assert "17%" in got[17]


def test_unknown_split_mode_rejected() -> None:
    with pytest.raises(ValueError):
        JapaneseTokenizer("B")  # type: ignore[arg-type]


# --- BM25 -----------------------------------------------------------------------------------------


def _reference_bm25(docs: list[list[str]], query: dict[str, float], k1: float, b: float
                    ) -> list[float]:
    n = len(docs)
    avgdl = sum(map(len, docs)) / n
    out = []
    for d in docs:
        s = 0.0
        for term, w in query.items():
            df = sum(term in x for x in docs)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = d.count(term)
            s += w * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
        out.append(s)
    return out


@pytest.fixture(scope="module")
def small_docs(tok: JapaneseTokenizer) -> list[list[str]]:
    texts = [
        "今日は晴れて、公園で子供たちがサッカーをしていた。",
        "半導体メーカーの株価が急落し、市場は混乱した。投資家は半導体株を売った。",
        "新しいレストランのラーメンは安くて美味しいと評判だ。",
        "台風の影響で、東京の電車が止まり、多くの通勤客が困った。",
        "中央銀行が金利を引き上げ、株価と為替が大きく動いた。",
    ]
    return [tok.tokens(t) for t in texts]


def test_bm25_ranks_the_right_document_first(tok: JapaneseTokenizer,
                                             small_docs: list[list[str]]) -> None:
    bm = BM25(small_docs)
    s = bm.scores({t: 1.0 for t in tok.tokens("半導体の株を売った投資家")})
    assert int(np.argmax(s)) == 1
    s = bm.scores(tok.tokens("台風で電車が止まった"))  # a plain token list works too
    assert int(np.argmax(s)) == 3
    assert bm.top_k(tok.tokens("ラーメン"), 3)[0][0] == 2


def test_bm25_matches_reference_formula() -> None:
    rng = random.Random(1)
    words = [f"w{i}" for i in range(30)]
    docs = [[rng.choice(words) for _ in range(rng.randint(1, 25))] for _ in range(40)]
    query = {"w1": 1.0, "w5": 0.5, "w29": 2.0, "nope": 3.0}
    bm = BM25(docs, k1=1.2, b=0.6)
    np.testing.assert_allclose(bm.scores(query), _reference_bm25(docs, query, 1.2, 0.6),
                               rtol=1e-9, atol=1e-12)


def test_weights_scale_contributions() -> None:
    docs = [["apple", "pie"], ["banana", "bread"], ["apple", "banana"]]
    bm = BM25(docs)
    even = bm.scores({"apple": 1.0, "bread": 1.0})
    assert even[0] > 0 and even[1] > 0
    leaning = bm.scores({"apple": 0.1, "bread": 1.0})
    assert int(np.argmax(leaning)) == 1
    np.testing.assert_allclose(bm.scores({"apple": 2.0}), 2 * bm.scores({"apple": 1.0}))
    assert not bm.scores({"apple": 0.0}).any()


def test_unknown_terms_are_ignored() -> None:
    docs = [["apple", "pie"], ["banana", "bread"]]
    bm = BM25(docs)
    np.testing.assert_array_equal(bm.scores({"apple": 1.0, "kiwi": 5.0}), bm.scores({"apple": 1.0}))
    assert not bm.scores({"kiwi": 1.0}).any()
    assert bm.top_k({"kiwi": 1.0}) == []
    assert bm.df("kiwi") == 0


def test_idf_positive_and_df() -> None:
    docs = [["common", "a"], ["common", "b"], ["common", "a"]]
    bm = BM25(docs)
    assert bm.df("common") == 3 and bm.df("a") == 2 and bm.df("b") == 1
    assert bm.idf("common") > 0  # +1 smoothing: a term in every document still adds score
    assert bm.idf("b") > bm.idf("a") > bm.idf("common")
    assert (bm.scores({"common": 1.0}) > 0).all()
    assert bm.vocabulary == {"common", "a", "b"}


def test_length_normalisation_and_edge_cases() -> None:
    docs = [["x"], ["x"] + ["filler"] * 20, []]
    bm = BM25(docs)
    s = bm.scores({"x": 1.0})
    assert s[0] > s[1] > 0 and s[2] == 0  # same tf, shorter document wins; empty doc scores 0
    assert BM25([]).scores({"x": 1.0}).shape == (0,)
    with pytest.raises(ValueError):
        BM25(docs, b=1.5)


def test_a_compound_gives_its_middle_units_too(tok: JapaneseTokenizer) -> None:
    tokens = tok.tokens("従業員数は200人")
    assert "従業員数" in tokens and "従業員" in tokens and "従業" in tokens
    assert len(tokens) == len(set(tokens))
