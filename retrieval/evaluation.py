"""``kiji eval``: retrieval and answering quality over a question file like ``dev.jsonl``.

A returned quote *hits* when it overlaps a gold span of the same article (gold quotes are located in
the article text by exact match). Figures are per language, per ``kind`` and overall.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiji.errors import InvalidInput
from kiji.retrieval.answer.fitting import Sample
from kiji.retrieval.answer.model import AnswerModel
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import AskResult, Quote
from kiji.retrieval.search.candidates import Mode


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    lang: str
    question: str
    answerable: bool
    kind: str
    gold: list[dict[str, str]]
    keywords: list[str]


def load_items(path: Path) -> list[Item]:
    """The records of a question file; a bad file or line is ``InvalidInput`` naming the file and line."""
    items = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        where = data.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(f"{path}:{where}: not UTF-8 text (byte {exc.start})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError
            gold = list(row.get("gold") or [])
            if not isinstance(row["question"], str) or row["lang"] not in ("ja", "en") or not all(
                    isinstance(g, dict) and isinstance(g.get("article"), str) and isinstance(g.get("quote"), str)
                    for g in gold):
                raise TypeError
            items.append(Item(id=str(row.get("id", n)), lang=row["lang"], question=row["question"],
                              answerable=bool(row["answerable"]), kind=row.get("kind", "-"),
                              gold=gold, keywords=list(row.get("answer_keywords") or [])))
        except (json.JSONDecodeError, KeyError, TypeError, RecursionError):
            raise InvalidInput(f"{path}:{n}: not a valid eval record (a JSON object with question, lang, "
                               "answerable and optional gold [{article, quote}])") from None
    return items


def _gold_spans(engine: Engine, item: Item) -> list[tuple[str, int, int]]:
    spans = []
    for gold in item.gold:
        aid = gold["article"].rsplit(".", 1)[0]
        article = engine.index.articles.get(aid)
        if article is None:
            continue
        pos = article.text.find(gold["quote"])
        while pos >= 0:
            spans.append((aid, pos, pos + len(gold["quote"])))
            pos = article.text.find(gold["quote"], pos + 1)
    return spans


def _first_hit(quotes: list[Quote], spans: list[tuple[str, int, int]]) -> int | None:
    for rank, q in enumerate(quotes, 1):
        if any(q.article_id == a and q.start < e and s < q.end for a, s, e in spans):
            return rank
    return None


def collect_samples(engine: Engine, items: Iterable[Item], group: str) -> list[Sample]:
    """Each question's candidate sentences with their signals and gold labels (for ``kiji fit``)."""
    samples = []
    for item in items:
        text = item.question.strip()
        if not text:
            continue
        cands = engine.candidates(text, engine.language_of(text))
        spans = _gold_spans(engine, item)
        labels = np.array([any(s.article_id == a and s.start < e and b < s.end for a, b, e in spans)
                           for s in cands.sentences], dtype=bool)
        samples.append(Sample(id=f"{group}:{item.id}", group=group, lang=item.lang, kind=item.kind,
                              answerable=item.answerable, sentences=cands.sentences, matrix=cands.matrix,
                              labels=labels, facts=cands.facts))
    return samples


def evaluate(engine: Engine, items: Iterable[Item], *, mode: Mode | None = None,
             top_k: int = 3, on_item: Callable[[Item, AskResult], None] | None = None,
             models: dict[str, AnswerModel] | None = None, group: str = "") -> dict[str, Any]:
    """Quality as a person sees it: a declined answerable question is a miss (``hit@3``);
    ``rank@3`` ranks the quotes whether or not the engine answered. ``models`` maps an item id
    (``group:id``) to the model to answer it with: the held-out model under cross-validation."""
    rows = []
    for item in items:
        started = time.perf_counter()
        eng = engine.with_model(models[f"{group}:{item.id}"]) if models else engine
        result = eng.ask(item.question, top_k=top_k, mode=mode)
        ms = (time.perf_counter() - started) * 1000
        spans = _gold_spans(engine, item)
        rank = _first_hit(result.considered, spans) if item.answerable else None
        shown = _first_hit(result.quotes, spans) if item.answerable else None
        haystack = result.answer + "\n" + "\n".join(q.text for q in result.quotes)
        gold_articles = {a for a, _, _ in spans}
        reached = {q.article_id for q in result.quotes[:3]
                   if any(q.article_id == a and q.start < e and b < q.end for a, b, e in spans)}
        rows.append({
            "id": item.id, "lang": item.lang, "kind": item.kind, "answerable": item.answerable,
            "answered": result.answered, "rank": rank, "shown": shown,
            "keyword": any(k in haystack for k in item.keywords) if item.keywords else None,
            "verbatim": all(engine.index.articles[q.article_id].text[q.start:q.end] == q.text
                            for q in result.considered + result.related),
            "multi": len(reached) / len(gold_articles) if item.kind == "multi_source" and gold_articles
            else None,
            "qlen": [len(q.text) for q in result.quotes],
            "ms": ms,
        })
        if on_item:
            on_item(item, result)
    return summarise(rows)


def _metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    un = [r for r in rows if not r["answerable"]]

    def share(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    junk = [r for r in un if r["kind"] == "decline_junk"]
    adversarial = [r for r in un if r["kind"] == "decline_adversarial"]
    other = [r for r in un if r not in junk and r not in adversarial]
    multi = [r["multi"] for r in ans if r["multi"] is not None]
    lengths = [n for r in rows for n in r["qlen"]]
    return {
        "n": len(rows), "answerable": len(ans), "unanswerable": len(un),
        "hit@1": share([r["shown"] == 1 for r in ans]),
        "hit@3": share([r["shown"] is not None and r["shown"] <= 3 for r in ans]),
        "rank@3": share([r["rank"] is not None and r["rank"] <= 3 for r in ans]),
        "mrr": round(sum(1 / r["rank"] for r in ans if r["rank"]) / len(ans), 3) if ans else None,
        "keyword_hit": share([bool(r["keyword"]) for r in ans if r["keyword"] is not None]),
        "answered_rate": share([r["answered"] for r in ans]),
        "declined_rate": share([not r["answered"] for r in other]),
        "junk_declined": share([not r["answered"] for r in junk]),
        "adversarial_declined": share([not r["answered"] for r in adversarial]),
        "multi_source": round(sum(multi) / len(multi), 3) if multi else None,
        "quote_chars": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "verbatim": share([r["verbatim"] for r in rows]),
        "p50_ms": round(statistics.median(r["ms"] for r in rows), 1) if rows else None,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_lang: dict[str, list] = defaultdict(list)
    by_kind: dict[str, list] = defaultdict(list)
    for r in rows:
        by_lang[r["lang"]].append(r)
        by_kind[f"{r['lang']}/{r['kind']}"].append(r)
    return {
        "overall": _metrics(rows),
        "by_language": {k: _metrics(v) for k, v in sorted(by_lang.items())},
        "by_kind": {k: _metrics(v) for k, v in sorted(by_kind.items())},
        "misses": [r["id"] for r in rows if (r["answerable"] and (r["shown"] is None or r["shown"] > 3))
                   or (r["answerable"] != r["answered"])],
    }


_COLUMNS = ("n", "hit@1", "hit@3", "rank@3", "keyword_hit", "answered_rate", "declined_rate",
            "junk_declined", "adversarial_declined", "multi_source", "verbatim", "quote_chars", "p50_ms")


def format_table(report: dict[str, Any], title: str = "") -> str:
    def fmt(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) and v <= 1 else str(v))

    lines = [title] if title else []
    rows = [("overall", report["overall"]), *report["by_language"].items(), *report["by_kind"].items()]
    # Each column as wide as its whole header (adversarial_declined is 20 characters): cut to a
    # fixed width, headers read "adversarial" and "junk_declin".
    widths = [max(len(c), *(len(fmt(m[c])) for _, m in rows)) + 2 for c in _COLUMNS]
    first = max(len("group"), *(len(name) for name, _ in rows)) + 2
    lines.append(f"{'group':<{first}}" + "".join(f"{c:>{w}}" for c, w in zip(_COLUMNS, widths, strict=True)))
    for name, m in rows:
        lines.append(f"{name:<{first}}" + "".join(f"{fmt(m[c]):>{w}}" for c, w in zip(_COLUMNS, widths, strict=True)))
    if report.get("misses"):
        lines.append("misses: " + ", ".join(report["misses"]))
    return "\n".join(lines)
