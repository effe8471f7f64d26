"""Regression tests: inputs and resources without a bound (issue 13, hostile input)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.db.pool import create_pool
from app.errors import Overloaded
from app.infra.event_loop import WS_MAX_BYTES, Worker
from app.llm import Turn
from app.routes import openai_api
from app.routes.search import MAX_QUERY_CHARS
from tests.conftest import settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest


def test_search_query_longer_than_the_limit_gets_400(client):
    response = client.get("/api/search", params={"q": "solar " * MAX_QUERY_CHARS})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "query_too_long" and str(MAX_QUERY_CHARS) in error["message"]
    assert client.get("/api/search", params={"q": "s" * MAX_QUERY_CHARS}).status_code == 200


def test_openai_api_uses_only_the_latest_turns_of_a_long_history():
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "x" * 500}
        for i in range(200)
    ] + [{"role": "user", "content": "And now?"}]
    _, _, question, history, _ = openai_api.parse_request({"model": "rag", "messages": messages})
    assert question == "And now?"
    assert 0 < len(history) <= openai_api.MAX_HISTORY_TURNS
    assert sum(len(t.content) for t in history) <= openai_api.MAX_HISTORY_CHARS
    assert history[-1].content.startswith("turn 199 ")  # the latest turns, in order
    huge = [Turn("user", "y" * (openai_api.MAX_HISTORY_CHARS + 1))]
    assert openai_api._bounded(huge) == []


def test_upstream_llm_request_sends_max_tokens(client, settings, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok", LLM_MAX_TOKENS="321"
    )
    with TestClient(Application(configured), headers=AUTH) as app:
        with app.stream("POST", "/api/chat", json={"question": "Solar panels?"}) as response:
            response.read()
    assert fake_llm.requests and all(r.get("max_tokens") == 321 for r in fake_llm.requests)


def test_pool_connections_have_a_statement_timeout_and_acquire_times_out(database_url):
    async def check() -> None:
        pool = await create_pool(
            database_url, max_size=1, acquire_timeout=0.5, statement_timeout=0.3
        )
        try:
            async with pool.acquire() as conn:
                with pytest.raises(asyncpg.QueryCanceledError):
                    await conn.execute("SELECT pg_sleep(5)")
                # Without an acquire timeout this would wait for ever: the outer bound then
                # cancels it, which pytest.raises does not take for the pool's Overloaded (the
                # only connection is busy and the server answers: a wait, not an outage).
                async with asyncio.timeout(30):
                    with pytest.raises(Overloaded):
                        async with pool.acquire():
                            pass  # the only connection is held above
        finally:
            await pool.close()

    asyncio.run(check())


def test_websocket_frames_are_capped_well_below_uvicorns_16_mib():
    assert WS_MAX_BYTES <= 1024 * 1024
    assert Worker.CONFIG_KWARGS["ws_max_size"] == WS_MAX_BYTES
