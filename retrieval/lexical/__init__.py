"""Words: Sudachi tokens and BM25, the English-to-Japanese bridge, and which question terms the corpus lacks."""
