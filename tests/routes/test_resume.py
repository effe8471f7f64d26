"""SSE resume: a client that reconnects with Last-Event-ID gets the rest of its answer, from
the stream log in Redis (REDIS_URL) or Postgres, on any worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from tests.conftest import _free_port, run_server, settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, parse_sse, row_counts

ROOT = Path(__file__).resolve().parents[2]

QUESTION = "How efficient are monocrystalline solar panels?"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["postgres", "redis"])
def backend_env(request) -> dict[str, str]:
    return {"REDIS_URL": REDIS_URL} if request.param == "redis" else {}


def test_eventsource_get_form_and_resume_after_any_event(client, settings, backend_env):
    ingest(client, "solar.md", SOLAR_GUIDE)
    with TestClient(Application(settings_with(settings, **backend_env)), headers=AUTH) as app:
        response = app.get("/api/chat", params={"question": QUESTION})
        assert response.headers["x-accel-buffering"] == "no"
        events = parse_sse(response.text)
        assert events[0][0] == "meta" and events[-1][0] == "done"
        for cut in (1, 2, len(events) - 1):
            resumed = app.get("/api/chat", headers={"Last-Event-ID": events[cut - 1][2]})
            assert parse_sse(resumed.text) == events[cut:]
        # POST resumes the same way; a body, if any, is ignored.
        resumed = app.post("/api/chat", headers={"Last-Event-ID": events[2][2]}, json={})
        assert parse_sse(resumed.text) == events[3:]


def test_bad_or_unknown_last_event_id_is_refused_and_stores_nothing(client, settings):
    before = row_counts(settings.database_url)
    bad = client.get("/api/chat", headers={"Last-Event-ID": "42"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_last_event_id"
    unknown = client.post(
        "/api/chat", headers={"Last-Event-ID": "00000000-0000-0000-0000-000000000000:3"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_stream"
    assert client.get("/api/chat").json()["error"]["code"] == "empty_question"
    assert row_counts(settings.database_url) == before


def test_a_stream_cut_by_the_client_resumes_to_an_interrupted_error(
    client, settings, fake_llm, backend_env
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow", LLM_READ_TIMEOUT="60", **backend_env
    )
    before = row_counts(settings.database_url)
    with (
        run_server(configured) as url,
        httpx.Client(base_url=url, timeout=60, headers=AUTH) as http,
    ):
        last_id = None
        with http.stream("GET", "/api/chat", params={"question": QUESTION}) as response:
            for line in response.iter_lines():
                if line.startswith("id:"):
                    last_id = line[3:].strip()
                if line.startswith("event: token"):
                    break
        assert fake_llm.wait_closed(1)
        resumed = parse_sse(http.get("/api/chat", headers={"Last-Event-ID": last_id}).text)
    assert resumed[-1][0] == "error" and resumed[-1][1]["code"] == "interrupted"
    assert {name for name, _, _ in resumed[:-1]} <= {"token"}
    # The question stays, and what was streamed is stored marked interrupted (before the
    # interrupted event is logged), not as if it were complete.
    assert row_counts(settings.database_url) == {**before, "conversations": 1, "messages": 2}
    assert _statuses(settings.database_url) == [("user", "complete"), ("assistant", "interrupted")]


def _statuses(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT role, status FROM messages ORDER BY created_at")
            return [(r["role"], r["status"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


@contextmanager
def web_process(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """The Procfile's web process (gunicorn with gunicorn.conf.py), one worker, on loopback:
    (its URL, the process)."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app.asgi:application", "-c", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"],
        # ALLOWED_HOSTS: a web process outside local mode refuses to start without it.
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost", **env},
        cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the web process did not start")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()  # (nothing if it has already ended)
        process.wait(60)


def test_resume_from_another_worker_process(client, settings, backend_env, tmp_path):
    ingest(client, "solar.md", SOLAR_GUIDE)
    env = {"DATABASE_URL": settings.database_url, "DATA_DIR": str(tmp_path), **backend_env}
    with web_process(env) as (first, _), web_process(env) as (second, _):
        with httpx.Client(timeout=60, headers=AUTH) as http:
            with http.stream("POST", first + "/api/chat", json={"question": QUESTION}) as r:
                lines = r.iter_lines()
                head = []
                for line in lines:
                    head.append(line)
                    if line.startswith("event: token"):
                        break
                last_id = [x for x in head if x.startswith("id:")][-1][3:].strip()
                # The first connection stays open (a proxy can hold it) while the client
                # resumes on the other worker, which follows the stream to its end.
                resumed = parse_sse(
                    http.get(second + "/api/chat", headers={"Last-Event-ID": last_id}).text
                )
                rest = parse_sse("\n".join([*head, *lines]) + "\n\n")
    assert resumed[-1][0] == "done"
    seen = [event_id for _, _, event_id in rest]
    assert resumed == rest[seen.index(last_id) + 1 :]
    answer = "".join(d["text"] for name, d, _ in rest if name == "token")
    assert "22 percent" in answer and "[1]" in answer


def test_answers_still_stream_when_redis_is_down(client, settings):
    ingest(client, "solar.md", SOLAR_GUIDE)
    down = settings_with(settings, REDIS_URL="redis://127.0.0.1:1/0")
    with TestClient(Application(down), headers=AUTH) as app:
        events = parse_sse(app.post("/api/chat", json={"question": QUESTION}).text)
    assert events[-1][0] == "done" and "[1]" in "".join(
        d["text"] for name, d, _ in events if name == "token"
    )


def test_sse_pings_while_the_model_is_slow(client, settings, fake_llm, monkeypatch):
    monkeypatch.setattr("app.rag.protocol.PING_SECONDS", 0.05)
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(
        settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="stall", LLM_READ_TIMEOUT="1"
    )
    with TestClient(Application(configured), headers=AUTH) as app:
        body = app.post("/api/chat", json={"question": QUESTION}).text
    assert ": ping" in body
    assert parse_sse(body)[-1][1]["code"] == "upstream_timeout"


async def test_issue_too_many_redis_connections_when_thousands_of_streams_record():
    # bench/stream.py found resume lost at 1,000 streams: the default pool refused to wait.
    import uuid as uuid_module

    from app.backends import redis_client
    from app.backends.stream_log import RedisStreamLog
    from app.rag.stream_log import Recorder, StreamWriter

    client, prefix = redis_client(REDIS_URL)
    log = RedisStreamLog(client, prefix)
    writer = StreamWriter(log)
    ids = [uuid_module.uuid4() for _ in range(1500)]
    try:
        for i in ids:
            Recorder(writer, i).add(1, "meta", '{"n": 1}')
        await asyncio.gather(*(Recorder(writer, i).close() for i in ids))
        assert await log.after(ids[-1], 0) == [(1, "meta", {"n": 1})]
        assert not writer.lost
        await client.delete(*(log.key(i) for i in ids))
    finally:
        await client.aclose()
