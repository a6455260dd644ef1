"""One import root: the top-level folders load only as ``kiji.*``, never as a second bare copy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT


@pytest.mark.parametrize("name", ["corpus", "retrieval", "api", "bot"])
def test_bare_names_refuse_to_import_from_the_checkout(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # `python -m pytest` puts the checkout on sys.path, so the folder is findable by its bare name.
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    with pytest.raises(ImportError, match=f"import kiji.{name}, not {name}"):
        importlib.import_module(name)
    assert name not in sys.modules


def test_the_installed_packages_are_the_checkout_folders() -> None:
    import kiji.api
    import kiji.bot
    import kiji.corpus
    import kiji.retrieval

    for module, folder in [(kiji.corpus, "corpus"), (kiji.retrieval, "retrieval"),
                           (kiji.api, "api"), (kiji.bot, "bot")]:
        assert module.__file__ is not None
        assert (REPO_ROOT / folder / "__init__.py").samefile(module.__file__)


def test_python_m_from_the_checkout_cannot_load_a_second_copy() -> None:
    code = "import kiji.retrieval.engine, sys; import retrieval"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "ImportError: import kiji.retrieval, not retrieval" in proc.stderr


def test_every_package_folder_is_listed_for_wheels() -> None:
    """An editable install finds a subpackage pyproject does not list; a wheel (the Dockerfile's
    ``pip install /src``) leaves it out. kiji/cli/ was missing from the list when it was made."""
    import tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for package, folder in config["package-dir"].items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO_ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    # Packages inside a mapped folder belong to it, whichever mapping reaches them first.
    assert found - listed == set()
    assert listed - found == set()
