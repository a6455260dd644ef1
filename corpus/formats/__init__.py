"""The article formats kiji reads: one module per format, registered in ``registry.py``."""
