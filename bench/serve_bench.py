"""Ready time and memory of ``kiji serve``: seconds from start to ``/readyz`` 200, and the server's
RSS after load and after a round of questions (peak and current, from /proc).

    .venv/bin/python bench/serve_bench.py [DEV_JSONL] [--questions 60]

Uses the settings as ``kiji serve`` does (``KIJI_EMBEDDING_MODEL``, ``KIJI_INDEX_DIR``, ...), on a
free 127.0.0.1 port. Linux only (reads /proc/PID/status).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid``, in MB (one worker: the server process is the whole cost)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dev", nargs="?", default=str(DEFAULT_DEV))
    parser.add_argument("--questions", type=int, default=60)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in Path(args.dev).read_text("utf-8").splitlines()
                 if line.strip()][: args.questions]
    port = _free_port()
    env = {**os.environ, "KIJI_PORT": str(port), "KIJI_HOST": "127.0.0.1", "KIJI_RATE_LIMIT_PER_MINUTE": "0",
           "KIJI_WATCH_INDEX": "false", "KIJI_ACCESS_LOG": "false",
           "KIJI_FEEDBACK_DB": str(Path(tempfile.mkdtemp()) / "feedback.sqlite3")}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "kiji.cli", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=60) as client:
            while True:
                if server.poll() is not None:
                    print(f"kiji serve exited with {server.returncode}")
                    return 1
                try:
                    if client.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - started > 300:
                    print("not ready after 300 s")
                    return 1
                time.sleep(0.1)
            ready = time.perf_counter() - started
            loaded = _memory_mb(server.pid)
            for question in questions:
                client.post(f"{base}/v1/ask", json={"question": question}).raise_for_status()
            served = _memory_mb(server.pid)
        print(f"model {os.environ.get('KIJI_EMBEDDING_MODEL') or '(default)'}: ready {ready:.1f} s after start; "
              f"RSS after load {loaded['VmRSS']:.0f} MB, after {len(questions)} questions "
              f"{served['VmRSS']:.0f} MB (peak {served['VmHWM']:.0f} MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
