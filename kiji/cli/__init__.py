"""The ``kiji`` command: build the index offline, ask, evaluate, serve the API, run the bot.

Errors from the core arrive as ``KijiError`` (or as an ``OSError`` / ``MemoryError`` / SQLite
error from the environment) and leave as one line on stderr with the exit status of their kind
(``kiji/exit_codes.py``). Any other exception is a bug: one line naming it, exit 70, the traceback
only with ``KIJI_DEBUG=1``.
"""

from kiji.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
