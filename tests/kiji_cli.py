"""Run the real ``kiji`` console script (the one this virtual environment installed) in a
subprocess, as a user would, optionally on the fake embedder (``tests/fake_model_site``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KIJI = Path(sys.executable).with_name("kiji")
FAKE_SITE = Path(__file__).resolve().parent / "fake_model_site"
#: The fake embedder's cosines live far below a real model's (see conftest.FAKE_TUNING).
FAKE_ENV = {"KIJI_MIN_SIMILARITY": "0.12"}


def fake_env() -> dict[str, str]:
    """What a subprocess needs to run on the fake embedder (``PYTHONPATH`` kept, extended)."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(FAKE_SITE), os.environ.get("PYTHONPATH")])),
            **FAKE_ENV}


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


def kiji(*args: str | Path, stdin: bytes | None = None, fake: bool = True, env: dict[str, str] | None = None,
         cwd: Path | None = None, timeout: float = 120, preexec_fn: Callable[[], None] | None = None) -> Run:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KIJI_") and k != "DISCORD_TOKEN"}
    full_env["KIJI_LOG_LEVEL"] = "ERROR"
    if fake:
        full_env.update(fake_env())
    full_env.update(env or {})
    proc = subprocess.run([str(KIJI), *map(str, args)], input=stdin, capture_output=True, timeout=timeout,
                          env=full_env, cwd=cwd or FAKE_SITE.parent,  # no developer .env
                          preexec_fn=preexec_fn)
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))
