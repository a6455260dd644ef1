"""``kiji serve`` (the HTTP API) and ``kiji bot`` (the Discord bot)."""

from __future__ import annotations

import argparse

from kiji.cli.resources import settings_from


def cmd_serve(args: argparse.Namespace) -> int:
    from kiji.api.server import run

    run(settings_from(args))  # --host, --port and --workers validated there, as KIJI_* settings are
    return 0


def cmd_bot(args: argparse.Namespace) -> int:
    from kiji.bot.main import main as bot_main

    bot_main(settings_from(args))
    return 0
