"""/mcp through Nginx (TLS) in front of gunicorn's two workers, with the MCP SDK's client."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import ANSWER
from tests.helpers import AUTH
from tests.mcp.client import data, mcp_client


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mcp_tool_calls_stream_their_progress_through_nginx_on_any_worker(
    stack, fake_upstream, mode
):
    while_writing: list[int] = []
    answers = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if value == 1:  # the first token: unbuffered, it is here while the LLM still writes
            while_writing.append(fake_upstream.producing)

    async with mcp_client(stack.https, AUTH, mode=mode, verify=stack.tls()) as client:
        assert len((await client.list_tools()).tools) == 4
        # Stateless, even after the legacy handshake: no session lives in one worker, so a
        # call may land on the other one, or on a worker recycled meanwhile (every 20).
        for _ in range(3):
            answer = await client.call_tool(
                "ask", {"question": "How efficient are the panels?"}, progress_callback=on_progress
            )
            answers.append(data(answer))
    assert [a["answer"] for a in answers] == ["".join(ANSWER)] * 3
    assert while_writing and all(producing > 0 for producing in while_writing), while_writing
    assert all(a["citations"] for a in answers)
