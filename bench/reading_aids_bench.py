"""How much of an answer an English reader can see in Japanese quotes, with highlights and glosses.

On the dev set's answerable English questions, each gold quote is found in its article (the
verbatim passage the answer comes from) and given the highlights and glosses ``kiji ask`` would
give it; each answer keyword in the quote is then counted as visible in English when:

* a figure (digits, no Latin letters: 4.5%, 2023年末): a highlight covers it;
* a named entity or code in Latin letters (AMD, H100): readable as written; how many a highlight
  covers is reported too;
* a named entity in katakana (オラクル, ノキア): a gloss names it in English;
* any other term (発電所, 過大評価): a gloss gives its meaning (reported apart).

Usage: .venv/bin/python bench/reading_aids_bench.py [--dev /work/shared/eval/dev.jsonl]
       [--index-dir var/index]
The lexical side and JMdict only: no embedding model is loaded.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from kiji.retrieval.answer.answer_types import asked_types
from kiji.retrieval.answer.reading_aids import ReadingAids
from kiji.retrieval.answer.signals import asks_for_number
from kiji.retrieval.index.store import load_current
from kiji.retrieval.models import Quote
from kiji.retrieval.search.candidates import LexicalSide

_KATAKANA = re.compile(r"^[\u30a0-\u30ff・ー]+$")
_LATIN = re.compile(r"[A-Za-z]")


def kind_of(keyword: str) -> str:
    if _LATIN.search(keyword):
        return "latin entity"  # names and codes: Oracle, H100, $20billion
    if any(ch.isdigit() for ch in keyword):
        return "figure"
    if _KATAKANA.match(keyword):
        return "katakana entity"
    return "other term"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", default="/work/shared/eval/dev.jsonl")
    parser.add_argument("--index-dir", default="var/index")
    args = parser.parse_args()
    index = load_current(Path(args.index_dir))
    lexical = LexicalSide(index)
    aids = ReadingAids(lexical)
    rows = [json.loads(line) for line in Path(args.dev).read_text(encoding="utf-8").splitlines() if line.strip()]
    counts: dict[str, list[int]] = {}
    misses: list[str] = []
    latin_marked = [0, 0]
    started = time.perf_counter()
    quotes = 0
    for row in rows:
        if row["lang"] != "en" or not row["answerable"]:
            continue
        question = row["question"]
        terms = lexical.terms(question, bridge=True)
        every = asks_for_number(question) or bool(asked_types(question) & {"number", "date"})
        for gold in row["gold"]:
            aid = gold["article"].rsplit(".", 1)[0]
            article = index.articles.get(aid)
            start = article.text.find(gold["quote"]) if article else -1
            if article is None or start < 0:
                continue
            text = gold["quote"]
            quote = Quote(article_id=aid, title=article.title, text=text, start=start, end=start + len(text),
                          score=0.0, chunk_id=0)
            [shown] = aids.annotate([quote], question=question, language="en", weights=terms.weights,
                                    every_figure=every)
            quotes += 1
            for keyword in row["answer_keywords"]:
                at = text.find(keyword)
                if at < 0:
                    continue
                kind = kind_of(keyword)
                end = at + len(keyword)
                marked = any(s < end and at < e for s, e in shown.highlights)
                if kind == "latin entity":
                    visible = True
                    latin_marked[0] += marked
                    latin_marked[1] += 1
                elif kind == "figure":
                    visible = marked
                else:
                    visible = any(g.term in keyword or keyword in g.term for g in shown.glosses)
                tally = counts.setdefault(kind, [0, 0])
                tally[0] += visible
                tally[1] += 1
                if not visible:
                    misses.append(f"{kind}: {keyword!r} in {text!r} ({question})")
    took = time.perf_counter() - started
    print(f"{quotes} gold quotes of English questions over Japanese text ({took * 1000 / max(1, quotes):.1f} ms each)")
    for kind, (seen, total) in sorted(counts.items()):
        print(f"  {kind:16} {seen:3d}/{total:<3d} visible in English ({seen / total:.0%})")
    print(f"  (latin entities highlighted: {latin_marked[0]}/{latin_marked[1]})")
    fig_ent = [counts.get(k, [0, 0]) for k in ("figure", "katakana entity")]
    seen, total = sum(c[0] for c in fig_ent), sum(c[1] for c in fig_ent)
    print(f"  figures and katakana names (those an English reader cannot read as written): "
          f"{seen}/{total} ({seen / max(1, total):.0%})")
    for miss in misses:
        print("  not visible:", miss)


if __name__ == "__main__":
    main()
