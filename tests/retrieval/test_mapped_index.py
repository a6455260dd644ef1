"""Issue 28: a memory-mapped index survives its files being truncated in place while served.

Published files are read-only and their sizes are in the manifest; a file that disagrees is refused
before it is mapped, and one truncated after mapping is named (``IndexCorrupt``) instead of killing
the process with SIGBUS. The SIGBUS case runs in a child process: on a kiji without the guard the
child dies of the signal, which is what the test reports."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiji.errors import IndexCorrupt
from kiji.retrieval.index.store import MANIFEST, SENTENCES, VECTORS, VERSIONS, current_version, load_current
from tests.helpers import build_fake_index

pytestmark = pytest.mark.usefixtures("isolated_env")

CHILD = """
import os, sys
from pathlib import Path
from kiji.errors import IndexCorrupt
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import load_current
from tests.helpers import FAKE_MODEL

index_dir, victim = Path(sys.argv[1]), sys.argv[2]
engine = Engine(index=load_current(index_dir, mmap=True), embedder=FakeEmbedder(), model=FAKE_MODEL)
assert engine.ask("NVIDIAは何%下落しましたか?").quotes
os.truncate(engine.index.path / victim, 1000)  # as the hostile probe did (root ignores 0444)
for call in (lambda: engine.ask("NVIDIAは何%下落しましたか?"), lambda: engine.search("DeepSeek")):
    try:
        call()
    except IndexCorrupt as exc:
        print("refused:", exc)
    else:
        print("answered from a truncated file")
"""


@pytest.fixture()
def index_dir(tmp_path: Path) -> Path:
    build_fake_index(tmp_path / "index")
    return tmp_path / "index"


@pytest.mark.parametrize("victim", [SENTENCES, VECTORS])
def test_a_file_truncated_while_mapped_is_refused_not_a_sigbus(index_dir: Path, victim: str) -> None:
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run([sys.executable, "-c", CHILD, str(index_dir), victim], capture_output=True,
                           text=True, timeout=120, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert child.returncode != -signal.SIGBUS, "the process died of SIGBUS"
    assert child.returncode == 0, child.stderr[-2000:]
    lines = child.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("refused:") for line in lines), child.stdout
    assert victim in lines[0] and "changed while it was mapped" in lines[0]


def test_published_files_are_read_only_and_their_sizes_are_in_the_manifest(index_dir: Path) -> None:
    path = index_dir / VERSIONS / (current_version(index_dir) or "")
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["files"][VECTORS] == (path / VECTORS).stat().st_size
    assert manifest["files"][SENTENCES] == (path / SENTENCES).stat().st_size
    for file in path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o444, file.name


@pytest.mark.parametrize("mmap", [False, True])
def test_a_file_whose_size_disagrees_with_the_manifest_is_never_mapped(index_dir: Path, mmap: bool) -> None:
    path = index_dir / VERSIONS / (current_version(index_dir) or "")
    sentences = path / SENTENCES
    sentences.chmod(0o644)
    with sentences.open("ab") as fh:  # grown, so numpy alone would still read a valid array
        fh.write(b"\0" * 4096)
    with pytest.raises(IndexCorrupt, match=r"sentences\.npy .* damaged: .* the manifest says"):
        load_current(index_dir, mmap=mmap)
