"""Load test of ``kiji serve`` on loopback: latency and throughput at 1, 8 and 32 concurrent clients.

    .venv/bin/python bench/api_bench.py [DEV_JSONL] [--duration 15] [--levels 1,8,32]

Starts the server exactly as ``kiji serve`` does (default settings: the real model, the index at
``settings.index_dir``) on a free 127.0.0.1 port, with the rate limit off so the bench measures the
service rather than the limiter. Each level runs closed-loop clients for ``--duration`` seconds,
cycling through the dev questions, then prints p50/p95/p99 latency, throughput and errors, next to
the bare ``embedder.embed_queries([q])`` time (median of 50, measured in-process before the server
starts so the two never compete for cores). Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

from kiji.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
READY_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0


def fail(message: str) -> None:
    print(f"api_bench: {message}", file=sys.stderr)
    sys.exit(2)


def load_questions(path: Path) -> list[str]:
    if not path.is_file():
        fail(f"no dev questions at {path} (pass the path of a .jsonl file with a 'question' field)")
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            question = json.loads(line).get("question")
            if isinstance(question, str) and question.strip():
                questions.append(question)
    if not questions:
        fail(f"{path} has no questions")
    return questions


def check_prerequisites(settings: Settings) -> None:
    from kiji.retrieval.index.store import current_version

    if current_version(settings.index_dir) is None:
        fail(f"no index at {settings.index_dir}: build it first with `kiji index build`")
    model = Path(settings.model_name)
    if settings.uses_default_model and not model.is_dir():
        fail(f"the default model is not prepared at {model}: run `kiji model prepare`")


def bare_embed_ms(settings: Settings, questions: list[str], runs: int = 50) -> tuple[float, str]:
    """Median time of one ``embed_queries([q])`` call on the runtime the server will use."""
    from kiji.runtime import load_embedder

    embedder = load_embedder(settings)
    for q in questions[:5]:  # first calls pay one-off allocation costs
        embedder.embed_queries([q])
    samples = []
    for q in itertools.islice(itertools.cycle(questions), runs):
        started = time.perf_counter()
        embedder.embed_queries([q])
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), embedder.runtime


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def auth_headers(settings: Settings) -> dict[str, str]:
    if settings.api_keys:
        return {"Authorization": f"Bearer {settings.api_keys[0].get_secret_value()}"}
    return {}


def start_server(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, KIJI_RATE_LIMIT_PER_MINUTE="0", KIJI_WORKERS="1")
    # Output goes to a file: an undrained pipe would fill up with access logs and stall the server.
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "kiji.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(base: str, proc: subprocess.Popen[bytes], log_path: Path) -> dict[str, object]:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            fail(f"the server exited with status {proc.returncode} before it was ready:\n{tail}")
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
            last = response.text
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    fail(f"the server was not ready after {READY_TIMEOUT_S:.0f} s (last: {last})")
    raise AssertionError  # unreachable


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class LevelResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def run_level(base: str, headers: dict[str, str], questions: Iterator[str], clients: int,
                    duration: float) -> LevelResult:
    # aiohttp, not httpx, for the load: the client shares the two cores with the server and its own
    # per-request cost is counted in every latency, and httpx's is about 1 ms more than aiohttp's.
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector, timeout=timeout) as client:

        async def post(question: str) -> int:
            async with client.post("/v1/ask", json={"question": question}) as response:
                await response.read()
                return response.status

        # A few unmeasured requests open the connections first.
        await asyncio.gather(*(post(next(questions)) for _ in range(clients)), return_exceptions=True)
        result = LevelResult(clients, duration)
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    status = await post(next(questions))
                    ok, kind = status == 200, str(status)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    ok, kind = False, type(exc).__name__
                if ok:
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
                else:
                    result.errors += 1
                    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        # Requests in flight at the deadline finish after it; count the real elapsed time.
        result.seconds = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", nargs="?", type=Path, default=DEFAULT_DEV)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per concurrency level")
    parser.add_argument("--levels", default="1,8,32", help="comma-separated client counts")
    parser.add_argument("--busy", action="store_true",
                        help="run a busy loop on one core during the levels (a competing CPU load)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or any(n < 1 or n > 256 for n in levels) or not 0 < args.duration <= 600:
        fail("levels must be 1..256 clients and duration 0..600 s")

    questions = load_questions(args.dev)
    settings = Settings()
    check_prerequisites(settings)
    embed_ms, runtime = bare_embed_ms(settings, questions)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="kiji-bench-") as tmp:
        log_path = Path(tmp) / "server.log"
        proc = start_server(port, log_path)
        try:
            ready = wait_ready(base, proc, log_path)
            cycle = itertools.cycle(questions)
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
            try:
                results = [asyncio.run(run_level(base, auth_headers(settings), cycle, n, args.duration))
                           for n in levels]
            finally:
                if busy:
                    busy.kill()
                    busy.wait()
        finally:
            stop_server(proc)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"kiji API bench: index {ready['index_version']} ({ready['chunks']} chunks), runtime {runtime}, "
          f"{cores} cores shared by client and server, {len(questions)} dev questions, "
          f"{args.duration:.0f} s per level" + (", with a busy loop on one core" if args.busy else ""))
    print(f"bare embed_queries([q]) in-process: median {embed_ms:.1f} ms (50 runs)")
    header = ("clients", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (7, 8, 7, 8, 8, 8, 6), strict=True)))
    for r in results:
        print(f"{r.clients:>7} {len(r.latencies_ms):>8} {r.throughput:>7.1f} {r.percentile(50):>8.1f} "
              f"{r.percentile(95):>8.1f} {r.percentile(99):>8.1f} {r.errors:>6}"
              + (f"  {r.error_kinds}" if r.error_kinds else ""))


if __name__ == "__main__":
    main()
