"""Issue 12, cases 1-3 and the exit-status rule, through the real ``kiji`` script in a subprocess
(fake embedder): a bad line does not end a batch, a damaged ``CURRENT`` / manifest / cache never
blocks the commands that repair it, and every fault has its own exit status and one line."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from kiji.retrieval.index.store import current_version
from tests.cli.fault_walk import ARTICLES
from tests.helpers import REPO_ROOT, build_fake_index
from tests.kiji_cli import Run, kiji


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus of two short articles and an index of two versions (older: one article)."""
    root = tmp_path_factory.mktemp("cli-faults")
    corpus, index_dir = root / "corpus", root / "index"
    corpus.mkdir()
    (corpus / "deepseek.txt").write_text(ARTICLES["deepseek.txt"], encoding="utf-8")
    build_fake_index(index_dir, corpus=corpus)
    (corpus / "chips.txt").write_text(ARTICLES["chips.txt"], encoding="utf-8")
    build_fake_index(index_dir, corpus=corpus)
    return corpus, index_dir


@pytest.fixture()
def index(built: tuple[Path, Path], tmp_path: Path) -> tuple[list[str], Path, list[str]]:
    """A private copy of the index: (the --corpus/--index-dir options, its folder, its versions)."""
    corpus, source = built
    index_dir = tmp_path / "index"
    shutil.copytree(source, index_dir)
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    return where, index_dir, sorted(p.name for p in (index_dir / "versions").iterdir())


def one_line_error(run: Run, status: int, *needles: str) -> str:
    assert run.code == status, (run.code, run.err)
    assert len(run.err_lines) == 1 and run.err.startswith("kiji: error: "), run.err
    for needle in needles:
        assert needle in run.err, (needle, run.err)
    return run.err


# --- case 1: a bad line ends a batch ----------------------------------------------------------------

def test_an_undecodable_line_gets_its_error_and_the_batch_goes_on(index: tuple[list[str], Path, list[str]]) -> None:
    where, _, _ = index
    lines = ["従業員は何人?".encode(), "TSMC \xff\xfe".encode("latin-1"), b"", "半導体株は下落した?".encode()]
    run = kiji("ask", "--json", "-", *where, stdin=b"\n".join(lines) + b"\n")
    assert run.code == 2, run.err  # some lines were invalid; every line was answered
    objs = [json.loads(line) for line in run.out.splitlines()]
    assert len(objs) == 4
    assert objs[0]["question"] == "従業員は何人?" and "answer" in objs[0]
    assert objs[1]["error"]["code"] == "invalid_input" and "UTF-8" in objs[1]["error"]["message"]
    assert objs[1]["question"].startswith("TSMC ")
    assert objs[2]["error"]["message"] == "the question is empty"
    assert objs[3]["question"] == "半導体株は下落した?" and "answer" in objs[3]
    assert "internal error" not in run.err


def test_an_undecodable_question_argument_is_bad_input(index: tuple[list[str], Path, list[str]]) -> None:
    where, _, _ = index
    run = kiji("ask", b"TSMC \xff\xfe".decode("utf-8", "surrogateescape"), *where)
    one_line_error(run, 2, "not valid UTF-8")


def test_a_reader_that_goes_away_is_not_a_bug(index: tuple[list[str], Path, list[str]]) -> None:
    import subprocess

    from kiji.exit_codes import OUTPUT_CLOSED
    from tests.kiji_cli import KIJI, fake_env

    where, _, _ = index
    env = {"PATH": "/usr/bin:/bin", **fake_env()}
    # `kiji ask --json - | head -1`: the pipe closes after the first answer.
    proc = subprocess.run(f"yes 従業員は何人? | head -200 | {KIJI} ask --json - {' '.join(where)} | head -1; "
                          "echo \"status ${PIPESTATUS[2]}\" >&2",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, env=env,
                          timeout=120, cwd=REPO_ROOT)
    assert len(proc.stdout.splitlines()) == 1
    assert f"status {OUTPUT_CLOSED}" in proc.stderr and "internal error" not in proc.stderr, proc.stderr


# --- case 2: a damaged pointer blocks the recovery commands ----------------------------------------

@pytest.mark.parametrize("pointer", [b"\xff\xfe\x00\x01garbage\x80", b"/absolute/path", b"../../escape", b""])
def test_a_damaged_current_is_named_and_repaired(index: tuple[list[str], Path, list[str]],
                                                 pointer: bytes) -> None:
    where, index_dir, versions = index
    (index_dir / "CURRENT").write_bytes(pointer)
    one_line_error(kiji("ask", "従業員は何人?", *where), 3, "CURRENT", "is damaged", "kiji index rollback")

    info = kiji("index", "info", *where)
    assert info.code == 0 and "CURRENT: DAMAGED:" in info.out, info
    assert all(f"  {v}  " in info.out for v in versions)  # every version still listed, none hidden

    rollback = kiji("index", "rollback", *where)
    assert rollback.code == 0 and versions[-1] in rollback.out, rollback  # the newest that loads
    assert current_version(index_dir) == versions[-1]

    (index_dir / "CURRENT").write_bytes(pointer)
    build = kiji("index", "build", *where)
    assert build.code == 0 and "published index version" in build.out, build
    assert "this build replaces it" in build.err
    assert kiji("ask", "従業員は何人?", *where).code == 0


def test_current_pointing_at_another_folder_is_not_followed(index: tuple[list[str], Path, list[str]],
                                                            tmp_path: Path) -> None:
    where, index_dir, versions = index
    # A complete, loadable version outside the index folder: the CLI used to answer from it.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(index_dir / "versions" / versions[0], elsewhere)
    for pointer in (str(elsewhere), f"../../{elsewhere.name}"):
        (index_dir / "CURRENT").write_text(pointer + "\n")
        run = kiji("ask", "--json", "従業員は何人?", *where)
        one_line_error(run, 3, "CURRENT", "path")
        assert run.out == ""


# --- case 3: damaged manifests and caches -----------------------------------------------------------

@pytest.mark.parametrize(("edit", "named"), [
    (lambda m: m.pop("model"), "'model' is missing"),
    (lambda m: m.update(counts=[]), "'counts' should be an object, not a list"),
    (lambda m: m.update(articles={"x": 3}), "no 'sha256' string"),
    (lambda m: m["model"].update(dim="384"), "'model.dim' should be an integer, not a string"),
])
def test_a_manifest_of_the_wrong_shape_is_named(index: tuple[list[str], Path, list[str]], edit: object,
                                                named: str) -> None:
    where, index_dir, versions = index
    path = index_dir / "versions" / versions[-1] / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    one_line_error(kiji("ask", "従業員は何人?", *where), 3, "manifest.json", named)
    info = kiji("index", "info", "--json", *where)
    assert info.code == 0, info.err
    listed = {v["version"]: v for v in json.loads(info.out)["versions"]}
    assert set(listed) == set(versions)  # the damaged one is named, the good one still listed
    assert listed[versions[0]]["ok"] and not listed[versions[-1]]["ok"]
    assert named in listed[versions[-1]]["error"]
    assert kiji("index", "rollback", *where).code == 0
    assert kiji("ask", "従業員は何人?", *where).code == 0


@pytest.mark.parametrize("full", [False, True])
def test_a_corrupt_embedding_cache_is_set_aside_and_rebuilt(index: tuple[list[str], Path, list[str]],
                                                            full: bool) -> None:
    where, index_dir, _ = index
    (cache,) = (index_dir / "cache").glob("*.sqlite")
    cache.write_bytes(b"\x00garbage, not SQLite" * 500)
    run = kiji("index", "build", *(["--full"] if full else []), *where)
    assert run.code == 0, run.err
    assert "set aside" in run.err and "published index version" in run.out
    assert cache.with_name(cache.name + ".damaged").read_bytes().startswith(b"\x00garbage")
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM vec").fetchone()[0] > 0  # rebuilt
    again = kiji("index", "build", "--json", *where)
    assert again.code == 0 and json.loads(again.out)["embedded_chunks"] == 0  # and used again


# --- the rule: every fault its own status, 70 only for a bug ---------------------------------------

def test_a_system_error_is_not_a_bug(index: tuple[list[str], Path, list[str]], tmp_path: Path) -> None:
    where, _, _ = index
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = kiji("index", "build", *where[:2], "--index-dir", str(blocker / "index"))
    one_line_error(run, 9, str(blocker))


def test_every_kiji_error_has_a_status_of_its_own() -> None:
    import kiji.errors as errors
    from kiji.exit_codes import BUG, EXIT_CODES, status_for

    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.KijiError) and c is not errors.KijiError]
    for cls in classes:
        exc = cls.__new__(cls)
        assert status_for(exc) not in (1, BUG), cls
    statuses = [c.status for c in EXIT_CODES]
    assert len(statuses) == len(set(statuses))


def test_the_docs_list_every_exit_status() -> None:
    from kiji.exit_codes import EXIT_CODES

    readme = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = readme[readme.index("| exit status |"):]
    table = table[: table.index("\n\n")]
    rows = dict(re.findall(r"^\| (\d+) \| `([^`]+)` \|", table, flags=re.M))
    assert rows == {str(c.status): c.name for c in EXIT_CODES}


# --- issue 28, item 5: a full disk ------------------------------------------------------------------

def _file_size_limit(limit: int) -> Callable[[], None]:
    """A child whose writes stop at ``limit`` bytes a file: numpy then reports a short write with no
    errno ("2048 requested and 1218 written"), exactly as it does on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("limit", [3000, 8000])
def test_a_full_disk_is_exit_9_and_changes_nothing(index: tuple[list[str], Path, list[str]],
                                                    tmp_path: Path, limit: int) -> None:
    where, index_dir, versions = index
    corpus = Path(where[1])
    before = current_version(index_dir), sorted(p.name for p in corpus.iterdir())
    new = tmp_path / "newco.txt"
    new.write_text(ARTICLES["deepseek.txt"].replace("DeepSeek", "NewCo"), encoding="utf-8")
    for args in (["index", "build", "--full"], ["index", "add", str(new)]):
        run = kiji(*args, *where, preexec_fn=_file_size_limit(limit))
        assert run.code == 9, (args, run.code, run.err)  # main: 70, "internal error: OSError"
        assert "kiji: error: cannot write a file: the disk is full" in run.err and "internal error" not in run.err
        assert (current_version(index_dir), sorted(p.name for p in corpus.iterdir())) == before
        assert sorted(p.name for p in (index_dir / "versions").iterdir()) == versions
    assert kiji("ask", "従業員は何人?", *where).code == 0


# --- issue 28, item 6: bad question files for eval and fit ------------------------------------------

GOOD_RECORD = '{"id": "a1", "lang": "ja", "question": "従業員は何人?", "answerable": true}\n'


@pytest.mark.parametrize(("content", "line"), [
    (GOOD_RECORD.encode() + "二行目\n".encode("shift_jis"), 2),  # main: UnicodeDecodeError, exit 70
    ((GOOD_RECORD + "[1,2]\n").encode(), 2),  # main: AttributeError, exit 70
    ((GOOD_RECORD + '{"lang": "ja", "question": "q", "answerable": true, "gold": ["x"]}\n').encode(), 2),
    ((GOOD_RECORD + '{"lang": "fr", "question": "q", "answerable": true}\n').encode(), 2),
    (b'"just a string"\n', 1),
])
@pytest.mark.parametrize("command", ["eval", "fit"])
def test_a_bad_question_file_is_exit_2_naming_the_file_and_line(
        index: tuple[list[str], Path, list[str]], tmp_path: Path, content: bytes, line: int, command: str) -> None:
    where, _, _ = index
    questions = tmp_path / "questions.jsonl"
    questions.write_bytes(content)
    extra = ["--out", str(tmp_path / "model.json")] if command == "fit" else []
    run = kiji(command, str(questions), *extra, *where)
    one_line_error(run, 2, f"{questions}:{line}:")
    assert not (tmp_path / "model.json").exists()


# --- issue 28, item 9: exotic damage never hangs the repair commands --------------------------------

def _make(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
        (path / "inside").write_text("x")
    else:
        path.symlink_to(kind)


@pytest.mark.parametrize("kind", ["fifo", "directory", "/dev/zero"])
def test_current_of_any_kind_is_named_and_replaced(index: tuple[list[str], Path, list[str]], kind: str) -> None:
    where, index_dir, versions = index
    _make(index_dir / "CURRENT", kind)  # main: a FIFO hangs every command; a directory exits 9
    one_line_error(kiji("ask", "従業員は何人?", *where, timeout=30), 3, "CURRENT", "is damaged")
    info = kiji("index", "info", *where, timeout=30)
    assert info.code == 0 and "CURRENT: DAMAGED:" in info.out, info
    rollback = kiji("index", "rollback", *where, timeout=30)
    assert rollback.code == 0 and current_version(index_dir) == versions[-1], rollback
    _make(index_dir / "CURRENT", kind)
    build = kiji("index", "build", *where, timeout=60)
    assert build.code == 0 and "published index version" in build.out, build
    assert kiji("ask", "従業員は何人?", *where, timeout=30).code == 0


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "outside"])
def test_a_manifest_that_is_no_plain_file_is_damage_not_a_hang(index: tuple[list[str], Path, list[str]],
                                                                tmp_path: Path, kind: str) -> None:
    where, index_dir, versions = index
    manifest = index_dir / "versions" / versions[-1] / "manifest.json"
    if kind == "outside":  # a copy of a good manifest, but outside the version folder
        outside = tmp_path / "manifest.json"
        outside.write_bytes(manifest.read_bytes())
        kind = str(outside)
    _make(manifest, kind)
    one_line_error(kiji("ask", "従業員は何人?", *where, timeout=30), 3, "manifest.json")  # main: hangs
    info = kiji("index", "info", *where, timeout=30)
    assert info.code == 0 and "manifest.json" in info.out, info
    rollback = kiji("index", "rollback", *where, timeout=30)
    assert rollback.code == 0 and current_version(index_dir) == versions[-2], rollback


# --- issue 28, items 10-11: options get the settings' validation, usage errors are one line ---------

@pytest.mark.parametrize(("option", "named"), [
    (["--port", "99999"], "--port: Input should be less than or equal to 65535"),
    (["--port", "0"], "--port: Input should be greater than or equal to 1"),
    (["--workers", "0"], "--workers: Input should be greater than or equal to 1"),
    (["--workers", "65"], "--workers: Input should be less than or equal to 64"),
])
def test_serve_options_are_validated_like_the_settings(option: list[str], named: str) -> None:
    # main: --port 99999 was logged and a random port listened on; --workers 0 was accepted
    run = kiji("serve", *option, timeout=30)
    one_line_error(run, 2, named)
    assert "feedback_db" not in run.err


@pytest.mark.parametrize(("args", "named"), [
    (["index"], "the following arguments are required: COMMAND"),  # bare `kiji` prints its help (test_help.py)
    (["nope"], "invalid choice: 'nope'"),
    (["index", "build", "--bogus"], "unrecognized arguments: --bogus"),
    (["ask", "--top-k", "99", "q"], "argument --top-k: must be from 1 to 10"),
    (["serve", "--port", "eighty"], "argument --port: invalid int value: 'eighty'"),
])
def test_a_usage_error_is_one_line(args: list[str], named: str) -> None:
    # main: argparse's usage block first, three lines and more, where the README promises one
    one_line_error(kiji(*args, timeout=30), 2, named, "--help`)")
