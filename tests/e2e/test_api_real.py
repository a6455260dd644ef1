"""One pass over the API with the real embedding model (marked ``model``: slower, needs the model)."""

from __future__ import annotations

import httpx
import pytest

from kiji.api.app import create_app
from kiji.retrieval.engine import Engine
from kiji.settings import Settings


@pytest.mark.model
async def test_api_answers_with_verbatim_quotes_on_the_real_model(real_engine: Engine,
                                                                  real_settings: Settings) -> None:
    settings = real_settings.model_copy(update={"watch_index": False, "rate_limit_per_minute": 0})
    app = create_app(settings, engine=real_engine, warm_up=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["runtime"] == real_engine.embedder.runtime

            for question in ("Stargateの最初の投資額っていくら?",
                             "How much was the initial investment in Stargate?"):
                response = await client.post("/v1/ask", json={"question": question, "top_k": 3})
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["index_version"] == real_engine.version
                assert body["answered"] and body["quotes"], body
                for quote in body["quotes"]:
                    article = (await client.get(f"/v1/articles/{quote['article_id']}")).json()
                    assert article["text"][quote["start"]:quote["end"]] == quote["text"]

            search = await client.get("/v1/search", params={"q": "DeepSeekの訓練コスト", "k": 3})
            assert search.status_code == 200 and len(search.json()["passages"]) == 3
