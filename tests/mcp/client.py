"""The MCP SDK's own client, over Streamable HTTP, as an API key's owner."""

from __future__ import annotations

import contextlib
import json
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

_STATUS = re.compile(r"\[(\d{3}) ([a-z_]+)\]")


@contextlib.asynccontextmanager
async def mcp_client(
    base_url: str,
    headers: dict[str, str] | None = None,
    *,
    mode: str = "auto",
    statuses: list[int] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> AsyncIterator[Client]:
    """A connected client of `base_url`/mcp sending these headers (an Authorization: Bearer);
    the HTTP statuses it gets are appended to `statuses`."""

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async with httpx2.AsyncClient(
        headers=headers or {}, timeout=60, event_hooks={"response": [record]}, verify=verify
    ) as session:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=session)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            yield client


def outcome(result: CallToolResult) -> tuple[int, str]:
    """(the status the HTTP API would answer, the code or "ok") of a tool call."""
    if not result.is_error:
        return 200, "ok"
    text = result.content[0].text  # type: ignore[union-attr]
    found = _STATUS.search(text)
    assert found, f"a tool error without its status and code: {text}"
    return int(found.group(1)), found.group(2)


def data(result: CallToolResult) -> dict[str, Any]:
    """A successful call's structured result (the same JSON as its text)."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    return result.structured_content
