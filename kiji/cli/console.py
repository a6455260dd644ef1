"""What the commands print besides JSON: progress bars and messages on stderr, answers for people."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from kiji.retrieval.models import AskResult, Quote


def progress_factory(label: str) -> Callable[[int], Callable[[int], None]]:
    def factory(total: int) -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=label, unit="passage", file=sys.stderr, dynamic_ncols=True,
                   disable=None, smoothing=0.1)

        def tick(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.close()

        return tick

    return factory


#: Loading the model and index takes 6-12 s on a laptop: after this long without output, say so.
LOADING_DELAY_S = 1.0
LOADING_MESSAGE = "kiji: loading the model and index…"


@contextlib.contextmanager
def loading_notice(stream: TextIO, *, enabled: bool = True, delay: float = LOADING_DELAY_S) -> Iterator[None]:
    """Say on ``stream`` (stderr) that the model is loading when the block takes over ``delay``
    seconds, and only on a terminal: a script reading stderr or a --json caller sees nothing. The
    line is erased when loading ends, so the answer reads as if it had been there all along."""
    isatty = getattr(stream, "isatty", None)
    if not enabled or not (isatty and isatty()):
        yield
        return
    shown = threading.Event()
    lock = threading.Lock()

    def show() -> None:
        with lock:
            stream.write(LOADING_MESSAGE)
            stream.flush()
            shown.set()

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            if shown.is_set():
                stream.write("\r\x1b[K")  # back to the line's start, erase it
                stream.flush()


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


BOLD, RESET = "\x1b[1m", "\x1b[0m"


def supports_bold(stream: TextIO) -> bool:
    """Bold only on a terminal that draws it: not piped, not TERM=dumb, not NO_COLOR
    (https://no-color.org), as git and ripgrep decide."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb" and not os.environ.get("NO_COLOR")


def marked(text: str, spans: Sequence[tuple[int, int]], bold: bool) -> str:
    """``text`` with its highlighted ``spans`` in bold (ANSI) when ``bold``, else as it is."""
    if not bold or not spans:
        return text
    out, pos = [], 0
    for start, end in spans:
        out += [text[pos:start], BOLD, text[start:end], RESET]
        pos = end
    return "".join(out) + text[pos:]


def _print_quote(q: Quote, bold: bool) -> None:
    for line in marked(q.text, q.highlights, bold).splitlines():
        print(f"    > {line}")
    if q.glosses:
        print("      " + " · ".join(f"{g.term} {g.gloss}" for g in q.glosses))


ALSO_RELEVANT = {"ja": "関連する記述:", "en": "Also relevant:"}
RELATED = {"ja": "関連しそうな箇所(質問に答えているとは限りません):",
           "en": "Closest passages (they may not answer the question):"}


def _where(q: Quote, verbose: bool, score: bool = True) -> str:
    if not verbose:
        return ""
    return f"  ({q.article_id}, chars {q.start}-{q.end}" + (f", score {q.score:.3f})" if score else ")")


def print_human(result: AskResult, *, verbose: bool = False) -> None:
    """The answer, its quotes (those clearly weaker than the first under "Also relevant"), or on a
    decline the closest passages; offsets, scores and the index version only with ``verbose``."""
    bold = supports_bold(sys.stdout)
    print(result.answer)
    if result.quotes:
        print()
    heading_done = False
    for i, q in enumerate(result.quotes, 1):
        if q.also_relevant and not heading_done:
            print("\n" + ALSO_RELEVANT[result.language])
            heading_done = True
        print(f"[{i}] {q.title}{_where(q, verbose)}")
        _print_quote(q, bold)
    if result.related:
        print("\n" + RELATED[result.language])
    for q in result.related:
        print(f"  - {q.title}{_where(q, verbose, score=False)}")
        _print_quote(q, bold)
    note = how_written(result)
    if verbose:
        probability = f", answer probability {result.confidence:.2f}" if result.confidence is not None else ""
        print(f"\n(index {result.index_version}, {result.took_ms:.0f} ms{probability}{note})", file=sys.stderr)
    elif note:
        print(f"\n({note.removeprefix('; ')})", file=sys.stderr)


def how_written(result: AskResult) -> str:
    """With a model configured: who wrote the answer, or why the model's answer was not used."""
    from kiji.retrieval.generation.result import DECLINED, GeneratedAskResult

    if not isinstance(result, GeneratedAskResult) or result.fallback_reason == DECLINED:
        return ""
    if result.model_declined:
        return "; the language model found no answer in the quotes"
    if result.answer_mode == "generated":
        unsourced = f"; {len(result.unsourced)} sentence(s) cite no quote" if result.unsourced else ""
        return "; answer written by the language model, checked against the quotes" + unsourced
    return f"; extractive answer, the model's was not used: {result.fallback_reason}"
