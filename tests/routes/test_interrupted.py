"""Answers cut before `done` are stored with what was streamed, status interrupted: a client that
stops or goes away, a model that fails mid-answer, a server shut down (SIGTERM) mid-stream; a
resume after the producer is gone ends with an `interrupted` error instead of waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.db import conversations as conversation_sql
from app.db.pool import init_connection
from tests.conftest import run_server, settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, eventually, ingest, parse_sse
from tests.routes.test_resume import web_process

QUESTION = "How efficient are monocrystalline solar panels?"


def _messages(http: httpx.Client | TestClient, conversation_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return response.json()["conversation"]["messages"]


def _read_until_tokens(lines_in: Iterator[str], count: int) -> tuple[list[str], str, str]:
    """Read until `count` tokens arrived: (the lines read, the text, the last event id)."""
    lines: list[str] = []
    text, last_id, tokens = "", None, 0
    for line in lines_in:
        lines.append(line)
        if line.startswith("id:"):
            last_id = line[3:].strip()
        if line == "":
            events = parse_sse("\n".join(lines) + "\n\n")
            tokens = sum(1 for name, _, _ in events if name == "token")
            if tokens >= count:
                text = "".join(d["text"] for name, d, _ in events if name == "token")
                break
    assert last_id is not None and tokens >= count, lines
    return lines, text, last_id


def _interrupted_answer(http: httpx.Client | TestClient, conversation_id: str) -> dict[str, Any]:
    """The conversation's answer once it is stored (the cancelled request stores it as it
    ends, a moment after the client left)."""

    async def stored() -> list[dict[str, Any]] | None:
        messages = _messages(http, conversation_id)
        return messages if len(messages) == 2 else None

    messages = asyncio.run(eventually(stored))
    assert [m["role"] for m in messages] == ["user", "assistant"], messages
    assert messages[0]["content"] == QUESTION
    return messages[1]


def test_an_answer_the_client_stops_is_stored_interrupted_with_its_sources(
    client, settings, fake_llm
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow")
    with (
        run_server(configured) as url,
        httpx.Client(base_url=url, timeout=60, headers=AUTH) as http,
    ):
        # Stop in the page and a dropped connection look the same to the server: it goes away.
        with http.stream("POST", "/api/chat", json={"question": QUESTION}) as response:
            lines, text, _ = _read_until_tokens(response.iter_lines(), 3)
        events = parse_sse("\n".join(lines) + "\n\n")
        conversation_id = events[0][1]["conversation_id"]
        assert fake_llm.wait_closed(1)  # the upstream request was closed too
        answer = _interrupted_answer(http, conversation_id)
        assert answer["id"] == events[0][1]["message_id"]
    assert answer["status"] == "interrupted"
    assert answer["content"].startswith(text) and text.startswith(" word word word")
    assert answer["sources"] == events[1][1]["sources"] and answer["sources"]


def test_an_answer_cancelled_over_the_websocket_is_stored_interrupted(client, settings, fake_llm):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow")
    with TestClient(Application(configured), headers=AUTH) as app:
        with app.websocket_connect("/ws/chat") as ws:
            ws.send_json({"type": "ask", "question": QUESTION})
            meta = ws.receive_json()
            text = ""
            while text.count("word") < 3:
                event = ws.receive_json()
                if event["type"] == "token":
                    text += event["text"]
            ws.send_json({"type": "cancel"})
            while (event := ws.receive_json())["type"] != "error":
                pass
            assert event["code"] == "cancelled"
        answer = _interrupted_answer(app, meta["conversation_id"])
    assert answer["status"] == "interrupted" and answer["content"].startswith(text)


def test_a_model_failing_mid_answer_leaves_the_answer_stored_interrupted(
    client, settings, fake_llm
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="cut")
    with TestClient(Application(configured), headers=AUTH) as app:
        events = parse_sse(app.post("/api/chat", json={"question": QUESTION}).text)
        assert events[-1][0] == "error" and events[-1][1]["code"] == "upstream_cut", events
        # Stored before the error event is sent: a page that reloads on it finds it.
        messages = _messages(app, events[0][1]["conversation_id"])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["status"] == "interrupted"
    assert messages[1]["content"] == fake_llm.answer[0]  # the one token sent before the cut


def test_a_finished_answer_is_stored_once_complete_and_a_retry_follows_an_interrupted_one(
    client, settings, fake_llm
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    cut = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="cut")
    ok = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with TestClient(Application(cut), headers=AUTH) as app:
        first = parse_sse(app.post("/api/chat", json={"question": QUESTION}).text)
    conversation_id = first[0][1]["conversation_id"]
    with TestClient(Application(ok), headers=AUTH) as app:
        body = {"question": QUESTION, "conversation_id": conversation_id}  # the page's Retry
        again = parse_sse(app.post("/api/chat", json=body).text)
        assert again[-1][0] == "done"
        messages = _messages(app, conversation_id)
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[3]["content"] == "".join(fake_llm.answer)

    async def keep_again() -> bool:  # a late save of the finished answer stores nothing
        conn = await asyncpg.connect(settings.database_url)
        await init_connection(conn)  # the pool's codecs (jsonb)
        try:
            return await conversation_sql.keep_interrupted(
                conn, conversation_id, again[0][1]["message_id"], "partial", []
            )
        finally:
            await conn.close()

    assert asyncio.run(keep_again()) is False


@pytest.mark.parametrize("log", ["postgres", "redis"])
def test_sigterm_mid_answer_stores_it_interrupted_and_a_resume_ends_with_interrupted(
    client, settings, fake_llm, tmp_path, log
):
    ingest(client, "solar.md", SOLAR_GUIDE)
    env = {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(tmp_path),
        "LLM_BASE_URL": fake_llm.url,
        "LLM_MODEL": "slow",  # never finishes: the shutdown has to cut it
        "GRACEFUL_TIMEOUT": "6",
        **({"REDIS_URL": "redis://127.0.0.1:6379/0"} if log == "redis" else {}),
    }
    with httpx.Client(timeout=60, headers=AUTH) as http:
        with web_process(env) as (url, web):
            with http.stream("POST", url + "/api/chat", json={"question": QUESTION}) as response:
                lines_in = response.iter_lines()
                lines, text, _ = _read_until_tokens(lines_in, 3)
                web.send_signal(signal.SIGTERM)
                lines.extend(lines_in)  # ends: the worker hands the stream off
            assert web.wait(60) == 0
        events = parse_sse("\n".join(lines) + "\n\n")
        assert events[-1][0] == "reconnect", events[-3:]
        last_id = [event_id for _, _, event_id in events if event_id][-1]
        seen = "".join(d["text"] for name, d, _ in events if name == "token")
        meta = events[0][1]
        with web_process(env) as (url, _):
            # The producer is gone: the rest that it logged, then an error that says so.
            resumed = parse_sse(
                http.get(url + "/api/chat", headers={"Last-Event-ID": last_id}).text
            )
            http.base_url = url
            messages = _messages(http, meta["conversation_id"])
    assert resumed[-1][0] == "error" and resumed[-1][1]["code"] == "interrupted", resumed[-3:]
    assert {name for name, _, _ in resumed[:-1]} <= {"token"}
    rest = "".join(d["text"] for name, d, _ in resumed if name == "token")
    assert [m["role"] for m in messages] == ["user", "assistant"]
    answer = messages[1]
    assert answer["id"] == meta["message_id"] and answer["status"] == "interrupted"
    # What was stored is what was streamed: what the client saw, then what the log kept.
    assert answer["content"] == seen + rest and seen.startswith(text)


def test_a_killed_worker_s_answer_is_kept_interrupted_by_the_worker_the_client_resumes_on(
    client, settings, fake_llm, tmp_path
):
    # SIGKILL: no shutdown, nothing stored by the producer. The resume used to wait
    # LLM_READ_TIMEOUT + 30 s and end with stream_lost, and the question stayed unanswered.
    ingest(client, "solar.md", SOLAR_GUIDE)
    env = {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(tmp_path),
        "LLM_BASE_URL": fake_llm.url,
        "LLM_MODEL": "slow",
        "LLM_READ_TIMEOUT": "2",  # the resume waits one read (plus 5 s) once tokens flowed
    }
    with httpx.Client(timeout=60, headers=AUTH) as http, web_process(env) as (url, web):
        with http.stream("POST", url + "/api/chat", json={"question": QUESTION}) as response:
            lines_in = response.iter_lines()
            lines, seen, last_id = _read_until_tokens(lines_in, 3)
            stream_id = last_id.rpartition(":")[0]
            asyncio.run(eventually(lambda: _logged_tokens(settings.database_url, stream_id)))
            [worker] = subprocess.run(
                ["pgrep", "-P", str(web.pid)], capture_output=True, text=True
            ).stdout.split()
            os.kill(int(worker), signal.SIGKILL)  # gunicorn starts another one
        meta = parse_sse("\n".join(lines) + "\n\n")[0][1]
        http.base_url = url
        asyncio.run(eventually(lambda: _ready(http), timeout=120))
        resume = http.get("/api/chat", headers={"Last-Event-ID": last_id})
        assert resume.status_code == 200, resume.text
        resumed = parse_sse(resume.text)
        messages = _messages(http, meta["conversation_id"])
    assert resumed[-1][0] == "error" and resumed[-1][1]["code"] == "interrupted", resumed[-3:]
    rest = "".join(d["text"] for name, d, _ in resumed if name == "token")
    assert [m["role"] for m in messages] == ["user", "assistant"], messages
    answer = messages[1]
    assert answer["id"] == meta["message_id"] and answer["status"] == "interrupted"
    assert answer["content"] == seen + rest and answer["content"].startswith(seen)
    assert answer["sources"], answer


async def _logged_tokens(database_url: str, stream_id: str) -> bool:
    """Whether the stream log holds tokens of the stream (it is written each second: a
    SIGKILL loses at most the last second)."""
    conn = await asyncpg.connect(database_url)
    try:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM stream_events WHERE stream_id = $1 AND event = 'token'",
                uuid.UUID(stream_id),
            )
        )
    finally:
        await conn.close()


async def _ready(http: httpx.Client) -> bool:
    try:
        return http.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False
