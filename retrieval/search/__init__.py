"""Candidate chunks for a question: dense and lexical retrieval fused, plus the articles a question names."""
