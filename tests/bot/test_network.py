"""Issue 12, case 6: the bot's network failures. At start, ``kiji bot`` (the real script, in a
subprocess) ends with one line naming what it could not reach, not exit 70; once running, a lost
gateway is retried with backoff until it is back."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from pathlib import Path

import pytest

from kiji.bot.main import run
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.bot.fake_discord import FakeDiscord
from tests.bot.helpers import TOKEN, finished
from tests.helpers import build_fake_index, small_corpus
from tests.kiji_cli import KIJI, Run, fake_env, kiji


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


@pytest.fixture(scope="module")
def bot_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bot-net")
    index_dir = root / "index"
    build_fake_index(index_dir, corpus=small_corpus(root, "corpus", 1))
    return {"DISCORD_TOKEN": TOKEN, "KIJI_INDEX_DIR": str(index_dir),
            "KIJI_FEEDBACK_DB": str(root / "feedback.sqlite3"), "KIJI_WATCH_INDEX": "false"}


def assert_named(run: Run, status: int, *needles: str) -> None:
    assert run.code == status, (run.code, run.err)
    assert run.err_lines == [run.err.strip()] and run.err.startswith("kiji: error: "), run.err
    for needle in needles:
        assert needle in run.err, (needle, run.err)
    assert TOKEN not in run.err and "internal error" not in run.err


def test_an_unreachable_api_is_named(bot_env: dict[str, str]) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/api/v10"
    run = kiji("bot", env={**bot_env, "KIJI_DISCORD_API_BASE": base}, timeout=90)
    assert_named(run, 7, f"cannot reach the Discord API at {base}", "Connection refused",
                 "KIJI_DISCORD_API_BASE")


def test_an_api_host_that_does_not_resolve_is_named(bot_env: dict[str, str]) -> None:
    base = "http://discord-api.invalid/api/v10"  # .invalid never resolves (RFC 2606)
    run = kiji("bot", env={**bot_env, "KIJI_DISCORD_API_BASE": base}, timeout=90)
    assert_named(run, 7, f"cannot reach the Discord API at {base}")


@pytest.mark.parametrize(("name", "value"), [("KIJI_DISCORD_API_BASE", "not a url"),
                                             ("KIJI_DISCORD_GATEWAY_URL", "ftp://127.0.0.1/gateway")])
def test_an_invalid_endpoint_setting_is_bad_input(bot_env: dict[str, str], name: str, value: str) -> None:
    run = kiji("bot", env={**bot_env, name: value}, timeout=90)
    assert_named(run, 2, "invalid settings", name.removeprefix("KIJI_").lower())


async def test_an_unreachable_gateway_is_named(bot_env: dict[str, str]) -> None:
    server = FakeDiscord(token=TOKEN)
    await server.start()  # the REST API answers; the gateway below does not
    gateway = f"ws://127.0.0.1:{_closed_port()}/gateway"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KIJI_")}, **fake_env(), **bot_env,
           "KIJI_DISCORD_API_BASE": server.api_base, "KIJI_DISCORD_GATEWAY_URL": gateway}
    try:
        proc = await asyncio.create_subprocess_exec(str(KIJI), "bot", env=env, cwd=Path(__file__).parent,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        await server.stop()
    run = Run(proc.returncode or 0, out.decode(), err.decode())
    assert_named(run, 7, f"cannot reach the Discord gateway at {gateway}", "Connection refused",
                 "KIJI_DISCORD_GATEWAY_URL")
    assert any(r.path.endswith("/users/@me") for r in server.requests)  # it got as far as logging in


async def test_a_lost_gateway_is_retried_with_backoff_until_it_is_back(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    settings = Settings(DISCORD_TOKEN=TOKEN, discord_api_base=server.api_base,
                        discord_gateway_url=server.gateway_url, feedback_db=tmp_path / "fb.sqlite3",
                        watch_index=False, discord_cooldown_s=0)
    task = asyncio.create_task(run(settings, engine, guild_ready_timeout=0.01))
    try:
        await server.wait_until(lambda: server.identifies, timeout=15)
        with caplog.at_level(logging.WARNING, logger="discord.client"):
            port = server.port
            await server.stop()  # Discord goes away...
            await asyncio.sleep(1.5)  # ...long enough for failed attempts...
            assert not task.done()  # ...which do not end the bot
            await server.start(port)  # and comes back
            await server.wait_until(lambda: server.resumes or server.identifies > 1, timeout=30)
        reconnects = [r for r in caplog.records if "reconnecting in" in r.getMessage()]
        assert reconnects and all(r.exc_info is None and r.levelno == logging.WARNING for r in reconnects)
        p = await server.interact(server.slash("help"))
        await server.wait_until(lambda: finished(p), timeout=15)  # answering again
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.stop()


def test_reconnect_log_lines_are_one_line() -> None:
    from kiji.bot.network import OneLineReconnects

    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except OSError:
        record = logging.LogRecord("discord.client", logging.ERROR, __file__, 1,
                                   "Attempting a reconnect in %.2fs", (1.5,), sys.exc_info())
    assert OneLineReconnects().filter(record)
    assert record.exc_info is None and record.levelname == "WARNING"
    assert record.getMessage() == ("gateway connection lost (ConnectionResetError: Connection reset by peer); "
                                   "reconnecting in 1.50s")


def test_a_damaged_feedback_database_is_named(bot_env: dict[str, str], tmp_path: Path) -> None:
    damaged = tmp_path / "feedback.sqlite3"
    damaged.write_bytes(b"not a database" * 100)
    run = kiji("bot", env={**bot_env, "KIJI_FEEDBACK_DB": str(damaged)}, timeout=90)
    assert_named(run, 9, str(damaged), "move it away")
