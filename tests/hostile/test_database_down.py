"""Regression tests: with PostgreSQL down every request answered a generic 500."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from starlette.testclient import TestClient, WebSocketDenialResponse

from app.asgi import Application
from app.config import load_settings
from app.db.embedded import create_database, start_embedded
from app.resources import run_migrations
from app.routes.health import DB_DOWN
from tests.conftest import TEST_ENV, add_test_admin
from tests.helpers import AUTH
from tests.hostile.test_outage import _stop


async def _prepare(admin_url: str) -> str:
    dsn = await create_database(admin_url, "down")
    await run_migrations(dsn)
    await add_test_admin(dsn)
    return dsn


def test_database_outage_answers_503_with_retry_after_and_recovers(tmp_path: Path):
    server = start_embedded(tmp_path / "pg")  # our own server: this test stops it
    try:
        dsn = asyncio.run(_prepare(server.get_uri()))
        settings = load_settings(
            {"DATABASE_URL": dsn, "DATA_DIR": str(tmp_path / "data"), **TEST_ENV}
        )
        with TestClient(Application(settings), headers=AUTH) as client:
            assert client.get("/api/conversations").status_code == 200
            _stop(server)

            response = client.get("/api/conversations")
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            error = response.json()["error"]
            assert error["code"] == "database_unavailable" and "try again" in error["message"]

            ready = client.get("/readyz")  # the exception's text goes to the log only
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable", "database": DB_DOWN}

            # An error event, or the handshake refused with 503 and Retry-After when the API
            # key's cached lookup has expired and authentication itself needs the database.
            try:
                with client.websocket_connect("/ws/chat") as ws:
                    ws.send_json({"type": "ask", "question": "Is anyone there?"})
                    event = ws.receive_json()
                    assert event["type"] == "error" and event["code"] == "database_unavailable"
            except WebSocketDenialResponse as refused:
                assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
                assert refused.json()["error"]["code"] == "database_unavailable"

            server.ensure_postgres_running()  # same data directory, same port
            deadline = time.monotonic() + 60
            while (status := client.get("/api/conversations").status_code) != 200:
                assert status == 503, status  # stale pooled connections fail, then reconnect
                assert time.monotonic() < deadline, "the app did not recover"
    finally:
        server.cleanup()
