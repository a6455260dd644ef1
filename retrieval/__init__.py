"""The core: a question in, verbatim quotes and an answer out (embedding → index/lexical → search → answer).

This folder installs as ``kiji.retrieval`` (pyproject.toml maps it).
"""

# The folder sits at the top of the repository, where a checkout on sys.path would also make it
# importable as plain ``retrieval``: a second copy with its own module state. Refuse that copy.
if __name__ != "kiji.retrieval":
    raise ImportError(f"import kiji.retrieval, not {__name__}")
