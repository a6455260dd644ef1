"""Text to vectors: the embedders (ONNX, torch, fake) and the offline preparation of the default model."""
