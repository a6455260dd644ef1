"""Articles: reading a corpus folder, page furniture, sentences and chunks (the bottom layer).

This folder installs as ``kiji.corpus`` (pyproject.toml maps it).
"""

# The folder sits at the top of the repository, where a checkout on sys.path would also make it
# importable as plain ``corpus``: a second copy with its own module state. Refuse that copy.
if __name__ != "kiji.corpus":
    raise ImportError(f"import kiji.corpus, not {__name__}")
