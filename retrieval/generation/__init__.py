"""Optional answers written by a language model from the retrieved quotes, verified before use.

The flow, one module each: ``prompt`` (the question and the numbered, delimited passages),
``client`` (the official ``openai`` client against any OpenAI-compatible server), ``verify`` (with
``figures``: citations, quotations and figures checked against the passages) and ``answerer`` (the
whole step: ask, verify, else fall back to the extractive answer and record why). ``result`` holds
what the edges receive. Nothing here reads settings: ``LLMConfig`` carries the values.
"""
