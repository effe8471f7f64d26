"""MCP's `ask` with a collection given answers with that collection's assistant; without one,
with the site's defaults. The SDK's own client over HTTP, a real uvicorn, and a real
OpenAI-compatible server on loopback that records what it was asked."""

from __future__ import annotations

import httpx

from app.llm.prompt import OPEN
from tests.conftest import run_server, settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.mcp.client import data, mcp_client

QUESTION = "How efficient are monocrystalline panels?"


async def test_ask_with_a_collection_uses_its_assistant(settings, fake_llm):
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with run_server(configured) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=120) as http:
            ingest(http, "solar.md", SOLAR_GUIDE, "manuals")
            assistant = {"instructions": "Answer as a haiku.", "passages": 1, "model": "paced"}
            saved = http.put("/api/collections/manuals/assistant", json=assistant)
            assert saved.status_code == 200, saved.text
        async with mcp_client(url, AUTH) as client:
            asked = data(
                await client.call_tool("ask", {"question": QUESTION, "collection": "manuals"})
            )
            scoped = fake_llm.requests[-1]
            everywhere = data(await client.call_tool("ask", {"question": QUESTION}))
            site = fake_llm.requests[-1]
    assert len(asked["citations"]) == 1 and asked["answered"] is True
    assert scoped["model"] == "paced"
    system = scoped["messages"][0]["content"]
    assert f"{OPEN}\nAnswer as a haiku." in system
    assert len(everywhere["citations"]) > 1
    assert site["model"] == "ok" and OPEN not in site["messages"][0]["content"]
