"""What an engine's warm-up spends on the lexical side, and the first katakana question after it.

    python bench/warmup_bench.py var/squad

Prints the seconds to build the lexical side of the index's current version, the JMdict bridge,
the katakana → Latin lookup that ``Engine.warm_up`` primes, and then the lexical work of a first
Japanese question with katakana words the articles write in Latin letters.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kiji.retrieval.index.store import load_current
from kiji.retrieval.search.candidates import LexicalSide

QUESTION = "アカウントのスケジュールとシアターのカルチャーは?"


def main() -> None:
    index = load_current(Path(sys.argv[1] if len(sys.argv) > 1 else "var/index"))
    t = time.perf_counter()
    side = LexicalSide(index)
    print(f"lexical side: {time.perf_counter() - t:.2f} s ({len(side.vocabulary)} terms)")
    t = time.perf_counter()
    _ = side.bridge
    print(f"bridge: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    side.coverage.latin_for("カタカナ")
    print(f"warm-up latin_for: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    terms = side.terms(QUESTION, bridge=False)
    missing = side.coverage.missing(QUESTION)
    print(f"first katakana question: {time.perf_counter() - t:.2f} s "
          f"(latin terms {sorted(w for w in terms.weights if w.isascii())}, missing {missing})")


if __name__ == "__main__":
    main()
