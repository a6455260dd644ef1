#!/usr/bin/env bash
# Static checks, run by .ci/run before the tests: ruff (lint + import order), mypy on every kiji
# package and on the tests and benches, import-linter contracts (pyproject.toml), and the docs
# site built strictly (mkdocs.yml: a broken link or anchor fails). Needs the venv from
# scripts/setup.sh.
#
# mypy and import-linter read packages from disk by name, and the folders install as kiji.* through
# a package-dir mapping, so both run on a mirror of the installed layout made of symlinks to the
# checkout: build/layout/kiji/{corpus,retrieval,api,bot} -> ../../../{corpus,...}, kiji's own
# modules and subpackages (kiji/cli) beside them, and tests/ and bench/ at the top. The files they
# report are the checkout's, under build/layout/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin

layout=build/layout
rm -rf "$layout" && mkdir -p "$layout/kiji"
for f in kiji/*.py; do ln -s "../../../$f" "$layout/kiji/"; done
for d in kiji/*/; do [ -f "$d/__init__.py" ] && ln -s "../../../${d%/}" "$layout/kiji/"; done
for pkg in corpus retrieval api bot; do ln -s "../../../$pkg" "$layout/kiji/$pkg"; done
ln -s ../../tests ../../bench "$layout/"

echo "==> ruff" >&2
"$PY/ruff" check .
echo "==> mypy (all of kiji: core, composition root and edges; the tests and benches)" >&2
mypy=(env MYPYPATH=. "../../$PY/mypy" --config-file ../../pyproject.toml --cache-dir ../mypy-cache)
(cd "$layout" && "${mypy[@]}" -p kiji -p tests && "${mypy[@]}" bench)
echo "==> import-linter" >&2
(cd "$layout" && PYTHONPATH=. "../../$PY/lint-imports" --no-cache ../../pyproject.toml)
echo "==> mkdocs build --strict (docs/ into build/site)" >&2
NO_MKDOCS_2_WARNING=1 "$PY/mkdocs" build --strict --quiet
