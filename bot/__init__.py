"""The Discord bot (discord.py): an edge over the core, wired by kiji.runtime.

This folder installs as ``kiji.bot`` (pyproject.toml maps it).
"""

# The folder sits at the top of the repository, where a checkout on sys.path would also make it
# importable as plain ``bot``: a second copy with its own module state. Refuse that copy.
if __name__ != "kiji.bot":
    raise ImportError(f"import kiji.bot, not {__name__}")
