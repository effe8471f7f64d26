"""Regression test: resuming an answer (Last-Event-ID) with Redis down answered a 500."""

from __future__ import annotations

from starlette.testclient import TestClient

from app.asgi import Application
from tests.conftest import _free_port, settings_with
from tests.helpers import AUTH


def test_resume_with_redis_down_answers_503_stream_log_unavailable(settings):
    nowhere = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    app = Application(settings_with(settings, REDIS_URL=nowhere))
    with TestClient(app, headers=AUTH) as client:
        response = client.get(
            "/api/chat", headers={"Last-Event-ID": "00000000-0000-0000-0000-000000000000:3"}
        )
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "stream_log_unavailable" and "try again" in error["message"]
