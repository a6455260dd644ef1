"""The sample outputs in README.md and docs/ are what kiji prints now (``scripts/samples.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "samples.py"
MODEL_SAMPLES = ["ask-ja", "ask-json", "ask-declined"]


def samples(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_the_samples_cover_the_front_door() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("ask-ja", "ask-json", "formats-list"):
        assert f"<!-- sample: {name} -->" in readme
    assert "<!-- sample: formats -->" in (REPO_ROOT / "docs" / "formats.md").read_text(encoding="utf-8")


def test_the_samples_from_the_format_registry_are_current() -> None:
    proc = samples("--check", "--only", "formats", "formats-list")
    assert proc.returncode == 0, proc.stderr


def test_a_stale_sample_is_named_then_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Before.\n\n<!-- sample: formats -->\n| format |\n| --- |\n| Text |\n<!-- /sample -->\n\nAfter.\n")
    proc = samples("--check", page)
    assert proc.returncode == 1 and f"stale: {page}: formats" in proc.stderr
    assert "| Text |" in page.read_text()  # --check changes nothing
    assert samples(page).returncode == 0
    text = page.read_text()
    assert text.startswith("Before.\n\n<!-- sample: formats -->\n| format | suffixes |") and text.endswith("After.\n")
    assert "| CSV | `.csv` |" in text
    assert samples("--check", page).returncode == 0


def test_an_unknown_sample_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- sample: nonesuch -->\n<!-- /sample -->\n")
    proc = samples("--check", page)
    assert proc.returncode == 1 and "unknown sample 'nonesuch'" in proc.stderr


@pytest.mark.model
def test_the_samples_from_the_real_model_are_current() -> None:
    """`kiji ask` against this checkout's index with the prepared default model: a change to what
    kiji prints (scores, wording, which quotes) fails here until `scripts/samples.py` is run."""
    proc = samples("--check", "--only", *MODEL_SAMPLES)
    assert proc.returncode == 0, proc.stderr
