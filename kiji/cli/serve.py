"""``kiji serve`` (the HTTP API) and ``kiji bot`` (the Discord bot)."""

from __future__ import annotations

import argparse

from kiji.cli.resources import settings_from


def cmd_serve(args: argparse.Namespace) -> int:
    from kiji.api.server import run

    settings = settings_from(args)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers)) if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    run(settings)
    return 0


def cmd_bot(args: argparse.Namespace) -> int:
    from kiji.bot.main import main as bot_main

    bot_main(settings_from(args))
    return 0
