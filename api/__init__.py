"""The HTTP API (FastAPI): an edge over the core, wired by kiji.runtime.

This folder installs as ``kiji.api`` (pyproject.toml maps it).
"""

# The folder sits at the top of the repository, where a checkout on sys.path would also make it
# importable as plain ``api``: a second copy with its own module state. Refuse that copy.
if __name__ != "kiji.api":
    raise ImportError(f"import kiji.api, not {__name__}")
