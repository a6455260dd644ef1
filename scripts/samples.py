"""The sample outputs in README.md and docs/, produced by the running product.

Each sample sits between ``<!-- sample: NAME -->`` and ``<!-- /sample -->`` in a Markdown file. This
script runs what the sample shows (the installed ``kiji`` script against the index and model of
this checkout, as a user would; or, for the formats table, kiji's format registry) and writes the
block again. ``--check`` changes nothing and exits 1 naming each block that differs from what kiji
prints now (tests/test_samples.py runs it, so a stale sample fails the suite).

Nothing that varies from run to run is shown: ``kiji ask`` prints the index version and the time
taken on stderr, which is not captured, and the JSON sample leaves out ``index_version`` and
``took_ms``.

    .venv/bin/python scripts/samples.py            # rewrite every sample
    .venv/bin/python scripts/samples.py --check    # exit 1 if one is stale
    .venv/bin/python scripts/samples.py --check --only formats docs/formats.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIJI = Path(sys.executable).with_name("kiji")
BLOCK = re.compile(r"(<!-- sample: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /sample -->)", re.DOTALL)


def kiji(*args: str) -> str:
    """stdout of the installed ``kiji``, run like a user's: no KIJI_* from this environment, no
    ``.env`` (a scratch working directory), the checkout's models/ and var/index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIJI_") and k != "DISCORD_TOKEN"}
    env["KIJI_LOG_LEVEL"] = "ERROR"
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run([str(KIJI), *args], capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"kiji {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def shown(command: str, output: str, lang: str = "text") -> str:
    return f"```{lang}\n$ {command}\n{output.rstrip()}\n```\n"


def ask_ja() -> str:
    question = "DeepSeekの従業員数は?"
    return shown(f'kiji ask "{question}"', kiji("ask", question))


def ask_declined() -> str:
    question = "What is the capital of Australia?"
    return shown(f'kiji ask "{question}"', kiji("ask", question))


def ask_json() -> str:
    question = "How much did TSMC fall?"
    result = json.loads(kiji("ask", "--json", "--top-k", "1", question))
    for varying in ("index_version", "took_ms"):
        result.pop(varying, None)
    body = json.dumps(result, ensure_ascii=False, indent=2)
    return f"```json\n{body}\n```\n"


def formats() -> str:
    from kiji.corpus.formats.registry import FORMATS

    rows = ["| format | suffixes | articles per file | what kiji reads |", "| --- | --- | --- | --- |"]
    for f in FORMATS:
        suffixes = ", ".join(f"`{s}`" for s in f.suffixes)
        per_file = "many (one per record; the size limit is per record)" if f.many else \
            "one (the file name is its id; the size limit is per file)"
        rows.append(f"| {f.name} | {suffixes} | {per_file} | {f.summary} |")
    return "\n".join(rows) + "\n"


def formats_list() -> str:
    from kiji.corpus.formats.registry import FORMATS

    return ", ".join(f"{f.name} ({' '.join(f'`{s}`' for s in f.suffixes)})" for f in FORMATS) + "\n"


SAMPLES: dict[str, Callable[[], str]] = {
    "ask-ja": ask_ja, "ask-json": ask_json, "ask-declined": ask_declined,
    "formats": formats, "formats-list": formats_list,
}
DEFAULT_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def update(paths: list[Path], only: set[str] | None, check: bool) -> list[str]:
    """Rewrite (or, with ``check``, compare) every sample block; return ``file: name`` of each
    block that was stale."""
    cache: dict[str, str] = {}
    stale: list[str] = []

    def render(match: re.Match[str], path: Path) -> str:
        name = match["name"]
        if name not in SAMPLES:
            raise SystemExit(f"{path.name}: unknown sample {name!r} (known: {', '.join(SAMPLES)})")
        if only is not None and name not in only:
            return match[0]
        if name not in cache:
            cache[name] = SAMPLES[name]()
        if match["body"] != cache[name]:
            stale.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {name}")
        return match[1] + cache[name] + match[4]

    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = BLOCK.sub(lambda m, p=path: render(m, p), text)  # type: ignore[misc]
        if new != text and not check:
            path.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md, docs/*.md)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a sample is stale")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"these samples only ({', '.join(SAMPLES)})")
    args = parser.parse_args(argv)
    stale = update([p.resolve() for p in args.files] or DEFAULT_FILES,
                   set(args.only) if args.only else None, args.check)
    for entry in stale:
        print(f"{'stale' if args.check else 'updated'}: {entry}", file=sys.stderr)
    if args.check and stale:
        print("run: .venv/bin/python scripts/samples.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
