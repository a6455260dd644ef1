"""Issue 28's hostile cases against ``kiji serve`` on loopback, with ``/healthz`` probed throughout.

    .venv/bin/python bench/hostile_bench.py slow-clients [--held 10000] [--hold-s 14]
    .venv/bin/python bench/hostile_bench.py flood [--fd-limit 4096] [--extra 1500]
    .venv/bin/python bench/hostile_bench.py large-answer [--mb 20] [--llm-timeout-s 5]

Each starts the real ``kiji serve`` in a subprocess over an index of the shipped corpus built in a
temporary folder (``slow-clients`` and ``flood`` on the fake embedder, ``tests/fake_model_site`` on
``PYTHONPATH``, since they measure the HTTP layer; ``large-answer`` on the configured real model, so
that questions are answered and the model server is asked), and probes ``GET /healthz`` every
100 ms on a fresh connection, as an orchestrator's liveness probe does.

- ``slow-clients``: holds ``--held`` connections that sent half a request line and header, prints
  the probe's latencies while they are held, the server's open descriptors, and when the server
  closed them (408 after its header deadline).
- ``flood``: the server's open-file limit lowered to ``--fd-limit``; opens that many connections and
  ``--extra`` more; prints how many got the JSON 503 ``overloaded``, the descriptors at the peak,
  and whether the log ever says "Too many open files". The probe runs on a kept-alive connection
  (fresh ones past the cap are the 503s being counted).
- ``large-answer``: a model server on loopback answers every completion with ``--mb`` MB of text
  (ignoring max_tokens), JSON and streamed; prints each /v1/ask's wall time, answer mode, fallback
  reason and took_ms, and the probe's worst latency meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR

ROOT = Path(__file__).resolve().parent.parent
KIJI = Path(sys.executable).with_name("kiji")
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("KIJI_")},
       "KIJI_RATE_LIMIT_PER_MINUTE": "0", "KIJI_WATCH_INDEX": "false", "KIJI_ACCESS_LOG": "false"}
#: The fake embedder (instant start) where no question needs answering.
FAKE = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests" / "fake_model_site"),
                                                    os.environ.get("PYTHONPATH")])),
        "KIJI_MIN_SIMILARITY": "0.12", "KIJI_EMBEDDING_RUNTIME": "torch"}
HALF = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_index(index_dir: Path, env: dict[str, str]) -> None:
    subprocess.run([str(KIJI), "index", "build", "--corpus", str(SHIPPED_CORPUS_DIR), "--index-dir",
                    str(index_dir)], env={**ENV, **env}, check=True, capture_output=True)


def start(index_dir: Path, port: int, log: Path, env: dict[str, str] | None = None,
          fd_limit: int | None = None) -> subprocess.Popen[bytes]:
    def limit() -> None:
        if fd_limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    proc = subprocess.Popen([str(KIJI), "serve", "--port", str(port), "--index-dir", str(index_dir)],
                            env={**ENV, **(env or {})}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            preexec_fn=limit)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"hostile_bench: the server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(200):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("hostile_bench: the server was not ready in 120 s")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Probe:
    """GET /healthz every 100 ms; a fresh connection each time unless ``keep_alive``."""

    def __init__(self, port: int, keep_alive: bool = False) -> None:
        self.port, self.keep_alive = port, keep_alive
        self.ms: list[float] = []
        self.failures: list[str] = []
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def once(self) -> None:
        started = time.perf_counter()
        try:
            if self._conn is None or not self.keep_alive:
                self._conn = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1)
            reader, writer = self._conn
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 1)
            if b" 200 " not in head:
                self.failures.append(head[:40].decode(errors="replace"))
            if not self.keep_alive:
                writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.failures.append(type(exc).__name__)
            self._conn = None
        self.ms.append((time.perf_counter() - started) * 1000)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.once()
            await asyncio.sleep(0.1)

    def summary(self) -> str:
        if not self.ms:
            return "no probes"
        return (f"{len(self.ms)} probes, p50 {statistics.median(self.ms):.1f} ms, "
                f"max {max(self.ms):.1f} ms, over 1 s or failed: {len(self.failures)}")


async def _open_half(port: int, n: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    held = []
    for i in range(0, n, 500):
        batch = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                       for _ in range(min(500, n - i))), return_exceptions=True)
        for conn in batch:
            if isinstance(conn, tuple):
                conn[1].write(HALF)
                held.append(conn)
    return held


async def slow_clients(port: int, proc: subprocess.Popen[bytes], held_n: int, hold_s: float) -> None:
    stop = asyncio.Event()
    probe = Probe(port)
    probing = asyncio.create_task(probe.run(stop))
    started = time.monotonic()
    held = await _open_half(port, held_n)
    opened_s = time.monotonic() - started
    peak = open_fds(proc.pid)
    print(f"held {len(held)} half-open connections (opened in {opened_s:.1f} s); server descriptors {peak}")
    closed_at: list[float] = []

    async def watch(reader: asyncio.StreamReader) -> None:
        try:
            reply = await asyncio.wait_for(reader.read(), hold_s)
            if b" 408 " in reply[:20]:
                closed_at.append(time.monotonic() - started)
        except (TimeoutError, OSError):
            pass

    await asyncio.gather(*(watch(r) for r, _ in held))
    stop.set()
    await probing
    for _, w in held:
        w.close()
    print(f"/healthz while held: {probe.summary()}")
    if closed_at:
        print(f"408 request_timeout and closed by the server: {len(closed_at)} of {len(held)}, "
              f"{min(closed_at):.1f}-{max(closed_at):.1f} s after the first opened")
    await asyncio.sleep(1.0)
    print(f"server descriptors 1 s after the clients closed: {open_fds(proc.pid)}")


async def flood(port: int, proc: subprocess.Popen[bytes], fd_limit: int, extra: int, log: Path) -> None:
    stop = asyncio.Event()
    probe = Probe(port, keep_alive=True)
    await probe.once()
    probing = asyncio.create_task(probe.run(stop))
    held = await _open_half(port, fd_limit + extra)
    await asyncio.sleep(0.5)
    peak = open_fds(proc.pid)
    overloaded = 0
    for reader, _ in held:
        try:
            if b'"overloaded"' in await asyncio.wait_for(reader.read(400), 0.01):
                overloaded += 1
        except (TimeoutError, OSError):
            pass
    stop.set()
    await probing
    for _, w in held:
        w.close()
    print(f"open-file limit {fd_limit}: opened {len(held)} connections; 503 overloaded: {overloaded}; "
          f"server descriptors at the peak {peak}")
    print(f"/healthz on a kept-alive connection meanwhile: {probe.summary()}")
    print(f'"Too many open files" in the server log: {"Too many open files" in log.read_text()}')


def fake_model(mb: float) -> web.Application:
    filler = "NVIDIA fell 11% [1]. " * int(mb * 1_000_000 / 21)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.json_response({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                      "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": filler}}]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(0, len(filler), 65_536):
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": filler[i:i + 65_536]}, "finish_reason": None}]}
            try:
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            except ConnectionError:
                return response
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def large_answer(port: int, stream: bool) -> None:
    stop = asyncio.Event()
    probe = Probe(port)
    probing = asyncio.create_task(probe.run(stop))
    await asyncio.sleep(0.3)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps({"question": "NVIDIAは時間外取引で何%下落しましたか?", "stream": stream}).encode()
    writer.write(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    reply = await asyncio.wait_for(reader.read(), 300)
    wall = time.perf_counter() - started
    writer.close()
    await asyncio.sleep(0.3)
    stop.set()
    await probing
    text = reply.decode(errors="replace")
    final = text[text.rindex('{"question"'):] if '{"question"' in text else "{}"
    body = json.loads(final.split("\n", 1)[0]) if final.startswith("{") else {}
    print(f"/v1/ask{' (stream)' if stream else ''}: {wall:.2f} s wall, answer_mode {body.get('answer_mode')}, "
          f"fallback_reason {body.get('fallback_reason')}, took_ms {body.get('took_ms')}; "
          f"/healthz meanwhile: {probe.summary()}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=["slow-clients", "flood", "large-answer"])
    parser.add_argument("--held", type=int, default=10_000)
    parser.add_argument("--hold-s", type=float, default=14.0)
    parser.add_argument("--fd-limit", type=int, default=4096)
    parser.add_argument("--extra", type=int, default=1500)
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--llm-timeout-s", type=float, default=5.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client holds the connections
    with tempfile.TemporaryDirectory(prefix="kiji-hostile-") as tmp:
        index_dir, log, port = Path(tmp) / "index", Path(tmp) / "serve.log", free_port()
        # The real model where /v1/ask must answer (the model server is asked only then).
        env: dict[str, str] = {} if args.case == "large-answer" else dict(FAKE)
        build_index(index_dir, env)
        runner = None
        if args.case == "large-answer":
            runner = web.AppRunner(fake_model(args.mb), access_log=None)
            await runner.setup()
            llm_port = free_port()
            await web.TCPSite(runner, "127.0.0.1", llm_port).start()
            env |= {"KIJI_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1", "KIJI_LLM_MODEL": "m",
                   "KIJI_LLM_TIMEOUT_S": str(args.llm_timeout_s)}
        proc = await asyncio.to_thread(start, index_dir, port, log, env,
                                       args.fd_limit if args.case == "flood" else None)
        try:
            if args.case == "slow-clients":
                await slow_clients(port, proc, args.held, args.hold_s)
            elif args.case == "flood":
                await flood(port, proc, args.fd_limit, args.extra, log)
            else:
                print(f"model answers of {args.mb:g} MB, KIJI_LLM_TIMEOUT_S={args.llm_timeout_s:g}")
                for stream in (False, True):
                    await large_answer(port, stream)
        finally:
            proc.terminate()
            proc.wait(30)
            if runner is not None:
                await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
