"""The README is a front door (short, every link resolves), and the docs site builds strictly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def slug(heading: str) -> str:
    """GitHub's (and MkDocs' toc) anchor of a heading: lower case, punctuation dropped, spaces → -."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", text))


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def broken_links(page: Path) -> list[str]:
    """Relative links of ``page`` whose file, or whose anchor in a Markdown file, does not exist.
    (Web links are not fetched: the tests run offline.)"""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading #{anchor})")
    return broken


def test_the_readme_is_a_front_door() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for section in ("Quickstart", "What you get", "Use your own articles", "Web page", "Discord bot",
                    "HTTP in three calls", "Documentation"):
        assert f"\n## {section}\n" in readme
    # The licence of the model that is not kiji's is named where the model is: in the same
    # paragraph as its name, in the models section.
    section = readme.split("\n## Embedding models\n", 1)[1].split("\n## ", 1)[0]
    first = section.strip().split("\n\n")[0]
    assert "EmbeddingGemma-300M" in first and "[Gemma Terms of Use](https://ai.google.dev/gemma/terms)" in first


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_every_link_resolves(name: str) -> None:
    assert broken_links(REPO_ROOT / name) == []


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Title\n\n## Setting up\n\n```\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#setting-up) [b](other.md#not-a-heading) [c](gone.md) [d](https://x.example)\n"
                    "```\n[e](inside-a-fence.md)\n```\n")
    assert broken_links(page) == ["other.md#not-a-heading (no heading #not-a-heading)", "gone.md (no such file)"]


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    """What scripts/check.sh runs: a broken link, a missing anchor or a page left out of the nav fails."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    proc = subprocess.run([str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "formats" / "index.html").is_file()
