"""Thirty people ask at once, on the real default model (EmbeddingGemma, ~40 ms a question on one
core): every interaction is acknowledged within Discord's 3 s (the fake server refuses a late one,
and the teardown checks every acknowledgement), and every one gets its answer, quoted verbatim."""

from __future__ import annotations

import pytest

from kiji.retrieval.engine import Engine
from tests.bot.helpers import QUESTION_EN, QUESTION_JA, Harness, embed_of, finished

pytestmark = pytest.mark.model

USERS = 30


@pytest.fixture()
def engine(real_engine: Engine) -> Engine:
    """This module's bot answers from the real model (the other bot tests use the fake embedder)."""
    real_engine.ask(QUESTION_JA)  # tokenizer and dictionaries loaded before the burst, as a served bot has them
    return real_engine


async def test_a_burst_of_thirty_users_is_acknowledged_in_time_and_answered(harness: Harness) -> None:
    questions = [QUESTION_EN if i % 2 else QUESTION_JA for i in range(USERS)]
    pending = [await harness.server.interact(harness.server.slash("ask", {"question": q}, user_id=5000 + i))
               for i, q in enumerate(questions)]
    await harness.server.wait_until(lambda: all(finished(p) for p in pending), timeout=60)
    assert all(p.ack_s is not None and p.ack_s < 3.0 and not p.rejected for p in pending)
    for p in pending:
        assert embed_of(p)["fields"]  # an answer with its quotes, not an apology
