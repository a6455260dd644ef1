"""Vectors and chunks on disk: FAISS, the versioned index directory, and the build that publishes versions."""
