"""Fault injection: every file of an index version and of the index folder, damaged every way.

``cases(index_dir)`` lists (file, damage) pairs for an index folder holding two versions; ``damage``
applies one. Run as a script (``python -m tests.cli.fault_walk TEMPLATE CORPUS``), it copies the
template folder once per case, damages the copy, and runs the CLI's own entry point
(``kiji.cli.main``, the function the ``kiji`` script calls) on it in this one process, with the fake
embedder (the model is not the point, and one process keeps ~40 cases within seconds). It prints one
JSON line per command: case, command, exit status, stdout and stderr. ``test_fault_injection``
asserts on them, and walks the same cases against a running API.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: truncate: the first half of the bytes; empty: none; garbage: random bytes of the same length;
#: wrong type: valid JSON of the wrong shape (``[]`` for a file, every line ``[]`` for a table);
#: delete: the file is gone.
DAMAGES = ("truncate", "empty", "garbage", "wrong-type", "delete")

#: Two short articles: a two-version index of them builds and loads in milliseconds.
ARTICLES = {
    "deepseek.txt": "DeepSeekの概要\n\nDeepSeekは中国のAI企業である。従業員数は200人で、開発費は1000万ドル"
                    "以下だった。設立から2年も経っていない。\n",
    "chips.txt": "半導体株の下落\n\nTSMCは4.5%下落した。エヌビディアも時間外取引で大きく下げた。市場全体が"
                 "売られた。\n",
}


@dataclass(frozen=True)
class Case:
    #: Path relative to the index folder; ``versions/{new}/...`` names the newer version's files.
    target: str
    damage: str

    @property
    def name(self) -> str:
        return f"{self.target}:{self.damage}"

    @property
    def in_version(self) -> bool:
        return self.target.startswith("versions/")


def cases(index_dir: Path, newer: str) -> list[Case]:
    """Every file of version ``newer`` and every file of the folder outside ``versions/``."""
    found = [p.relative_to(index_dir).as_posix() for p in sorted((index_dir / "versions" / newer).iterdir())]
    found += [p.relative_to(index_dir).as_posix() for p in sorted(index_dir.rglob("*"))
              if p.is_file() and "versions" not in p.relative_to(index_dir).parts]
    return [Case(target, damage) for target in found for damage in DAMAGES]


def damage(index_dir: Path, case: Case, seed: int = 12) -> None:
    path = index_dir / case.target
    data = path.read_bytes()
    if case.damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif case.damage == "empty":
        path.write_bytes(b"")
    elif case.damage == "garbage":
        path.write_bytes(random.Random(seed).randbytes(max(len(data), 64)))
    elif case.damage == "wrong-type":
        lines = max(1, data.count(b"\n")) if path.suffix == ".jsonl" else 1
        path.write_bytes(b"[]\n" * lines)
    elif case.damage == "delete":
        path.unlink()
    else:
        raise ValueError(case.damage)


def _run(argv: list[str]) -> tuple[int, str, str]:
    from kiji import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def walk(template: Path, corpus: Path, work: Path) -> Iterator[dict[str, object]]:
    versions = sorted(p.name for p in (template / "versions").iterdir())
    newer = versions[-1]
    for case in cases(template, newer):
        copy = work / "index"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(template, copy)
        damage(copy, case)
        where = ["--index-dir", str(copy), "--corpus", str(corpus)]
        # The order matters: read-only commands first, then the two that repair.
        for command in (["index", "info"], ["ask", "--json", "従業員は何人?"],
                        ["index", "rollback"], ["index", "build"], ["ask", "--json", "半導体株は下落した?"]):
            started = time.perf_counter()
            code, out, err = _run([*command, *where])
            yield {"case": case.name, "command": " ".join(command[:2]), "code": code, "out": out,
                   "err": err, "seconds": round(time.perf_counter() - started, 3)}
            if command[:2] == ["index", "rollback"]:  # build from the damaged state, not the repaired one
                shutil.rmtree(copy)
                shutil.copytree(template, copy)
                damage(copy, case)


def main() -> None:
    import tempfile

    import kiji.retrieval.embedding.embedder as embedder
    from kiji.retrieval.embedding.fake import FakeEmbedder

    embedder.load_embedder = lambda config: FakeEmbedder()
    template, corpus = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as work:
        for row in walk(template, corpus, Path(work)):
            print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
