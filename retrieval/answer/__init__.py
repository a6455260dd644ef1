"""From candidate chunks to an answer: quotes, the decision to answer, the answer text."""
