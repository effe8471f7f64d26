"""Regression test: PostgreSQL stopping while an answer streams ended the stream without a
word (the answer is stored, and the stream log written, only as it goes)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx

from app.asgi import Application
from app.config import load_settings
from app.db.embedded import start_embedded
from tests.conftest import TEST_ENV, run_asgi
from tests.helpers import AUTH, ingest, parse_sse
from tests.hostile.test_database_down import _prepare
from tests.hostile.test_outage import _stop

NOTES = "# Panels\n\nMonocrystalline panels convert about 22 percent of sunlight.\n"


def test_database_lost_mid_answer_ends_the_stream_with_an_error_event(
    tmp_path: Path, fake_llm, caplog
):
    fake_llm.answer = ["Panels convert", " about 22 percent [1]."]
    fake_llm.hold_last = threading.Event()
    server = start_embedded(tmp_path / "pg")  # our own server: this test stops it
    try:
        dsn = asyncio.run(_prepare(server.get_uri()))
        settings = load_settings(
            {
                "DATABASE_URL": dsn,
                "DATA_DIR": str(tmp_path / "data"),
                "LLM_BASE_URL": fake_llm.url,
                "LLM_MODEL": "ok",
                **TEST_ENV,
            }
        )
        with run_asgi(Application(settings, local=True)) as url:
            with httpx.Client(base_url=url, timeout=60, headers=AUTH) as client:
                ingest(client, "panels.md", NOTES)
                with client.stream("POST", "/api/chat", json={"question": "How efficient?"}) as r:
                    assert r.status_code == 200
                    lines = r.iter_lines()
                    body = []
                    for line in lines:  # up to the first token
                        body.append(line)
                        if line == "event: token":
                            break
                    _stop(server)
                    fake_llm.hold_last.set()
                    body.extend(lines)  # must end, and say why
                events = parse_sse("\n".join(body) + "\n\n")
                names = [name for name, _, _ in events]
                assert names[0] == "meta" and "token" in names, names
                name, data, _ = events[-1]
                assert name == "error", events
                assert data["code"] == "database_unavailable", data
                assert "try again" in data["message"]
                # Storing what was streamed, as interrupted, failed too: said, not raised.
                assert "could not be stored" in caplog.text

                server.ensure_postgres_running()
                for _ in range(30):  # stale pooled connections fail once, then reconnect
                    answer = client.post("/api/chat", json={"question": "How efficient?"})
                    if parse_sse(answer.text)[-1][0] == "done":
                        break
                else:
                    raise AssertionError(f"no answer after the database came back: {answer.text}")
    finally:
        fake_llm.hold_last.set()
        server.cleanup()
