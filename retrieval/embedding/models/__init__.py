"""Embedding models kiji knows by name (``registry.py``), one module each."""
