"""Regression tests: a burst of asks was told "the database is unavailable" (issue 28).

At 2,000 asks opened within 4 s the pool's acquire timed out behind the burst and 23 answers
ended with database_unavailable while PostgreSQL was up. Now asks past what a worker starts at
once wait in a bounded queue, and the excess gets 503 `overloaded` with Retry-After on every
transport, before anything is stored; `database_unavailable` is kept for a real outage.

A lock on the conversations table holds the first ask in its start (storing the question),
so the burst is built step by step, with no timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.asgi import Application
from app.config import load_settings
from app.db import unavailable
from app.db.embedded import create_database, start_embedded
from app.db.pool import create_pool
from app.errors import Overloaded
from app.resources import run_migrations
from tests.conftest import TEST_ENV, add_test_admin, run_asgi, settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, eventually, ingest, parse_sse
from tests.hostile.test_outage import _stop
from tests.tcp import port_of, tcp_server

REFUSED = "a refused question {}"


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def _ws_ask(base: str, question: str) -> dict:
    url = base.replace("http://", "ws://") + "/ws/chat"
    async with connect(url, additional_headers=AUTH) as ws:
        await ws.send(json.dumps({"type": "ask", "question": question}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if event["type"] in ("error", "done"):
                return event


async def _locked(url: str) -> asyncpg.Connection:
    """A connection holding conversations locked: an ask storing its question waits on it."""
    conn = await asyncpg.connect(url)
    await conn.execute("BEGIN; LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE")
    return conn


async def _waiting_on_lock(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        )
    )


async def test_a_burst_past_the_queue_is_refused_as_overloaded_on_every_transport(settings):
    configured = settings_with(
        settings, ASK_CONCURRENCY="1", ASK_QUEUE_SIZE="1", ASK_QUEUE_SECONDS="120"
    )
    with run_asgi(Application(configured, local=True)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as client:
            ingest = await client.post("/api/documents", files={"file": ("s.md", SOLAR_GUIDE)})
            assert ingest.status_code == 202
            refused_before = _metric(
                await _metrics(client), 'asks_refused_total{reason="queue_full"}'
            )
            lock = await _locked(settings.database_url)
            try:
                # The first ask is admitted and waits on the lock; the second waits its turn.
                first = asyncio.create_task(
                    client.post("/api/chat", json={"question": "first question"})
                )
                await eventually(lambda: _waiting_on_lock(lock))
                second = asyncio.create_task(_ws_ask(base, "second question"))

                async def queued() -> bool:
                    return _metric(await _metrics(client), "ask_queue_depth") == 1

                await eventually(queued)

                # The queue is full: each transport is refused at once, before any storage.
                sse = await client.post("/api/chat", json={"question": REFUSED.format("sse")})
                get = await client.get("/api/chat", params={"question": REFUSED.format("get")})
                v1 = await client.post(
                    "/v1/chat/completions",
                    json={"model": "rag", "messages": [{"role": "user", "content": "v1?"}]},
                )
                ws = await _ws_ask(base, REFUSED.format("ws"))
                # Told before anything else is done, the key lookup included: a burst's
                # excess costs the worker nothing but the refusal.
                unchecked = await client.post(
                    "/api/chat",
                    json={"question": REFUSED.format("unchecked key")},
                    headers={"Authorization": "Bearer rag_not-a-key"},
                )
                assert unchecked.status_code == 503
                assert unchecked.json()["error"]["code"] == "overloaded"
                for response in (sse, get, v1):
                    assert response.status_code == 503, response.text
                    error = response.json()["error"]
                    assert error["code"] == "overloaded", error
                    assert int(response.headers["retry-after"]) >= 1
                    assert (
                        f"try again in {response.headers['retry-after']} seconds"
                        in (error["message"])
                    )
                assert ws["type"] == "error" and ws["code"] == "overloaded", ws
                assert ws["retry_after"] >= 1 and "busy" in ws["message"]
                assert not first.done() and not second.done()
            finally:
                await lock.execute("ROLLBACK")
                await lock.close()

            # The admitted asks complete, in turn.
            answered = await first
            assert answered.status_code == 200
            assert parse_sse(answered.text)[-1][0] == "done"
            assert (await second)["type"] == "done"

            text = await _metrics(client)
            assert _metric(text, 'asks_refused_total{reason="queue_full"}') == refused_before + 5
            assert _metric(text, "ask_queue_depth") == 0
            assert _metric(text, "asks_starting") == 0

    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM conversations")
        refused = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE content LIKE 'a refused question%'"
        )
    finally:
        await conn.close()
    assert stored == 2 and refused == 0


async def test_a_pool_wait_that_times_out_is_overloaded_not_database_unavailable(settings):
    # One connection, held by an ask waiting on the lock: the next ask's acquire times out
    # while PostgreSQL is up and answers.
    configured = settings_with(
        settings, DB_POOL_SIZE="1", DB_ACQUIRE_TIMEOUT="0.5", ASK_CONCURRENCY="4"
    )
    with run_asgi(Application(configured)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as client:
            before = _metric(await _metrics(client), "db_pool_timeouts_total")
            lock = await _locked(settings.database_url)
            try:
                first = asyncio.create_task(client.post("/api/chat", json={"question": "one"}))
                await eventually(lambda: _waiting_on_lock(lock))
                second = await client.post("/api/chat", json={"question": "two"})
                v1 = await client.post(
                    "/v1/chat/completions",
                    json={"model": "rag:default", "messages": [{"role": "user", "content": "?"}]},
                )
                for response in (second, v1):
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "overloaded", response.text
                    assert response.headers["retry-after"] == "5"
            finally:
                await lock.execute("ROLLBACK")
                await lock.close()
            assert (await first).status_code == 200
            assert _metric(await _metrics(client), "db_pool_timeouts_total") >= before + 2


async def _prepare(admin_url: str) -> str:
    dsn = await create_database(admin_url, "down")
    await run_migrations(dsn)
    await add_test_admin(dsn)
    return dsn


async def test_a_real_outage_is_still_database_unavailable_on_every_transport(tmp_path: Path):
    server = start_embedded(tmp_path / "pg")  # our own server: this test stops it
    try:
        dsn = await _prepare(server.get_uri())
        settings = load_settings(
            {"DATABASE_URL": dsn, "DATA_DIR": str(tmp_path / "data"), **TEST_ENV}
        )
        with run_asgi(Application(settings)) as base:
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
                assert (await client.get("/api/conversations")).status_code == 200
                _stop(server)
                sse = await client.post("/api/chat", json={"question": "Anyone there?"})
                v1 = await client.post(
                    "/v1/chat/completions",
                    json={"model": "rag:default", "messages": [{"role": "user", "content": "?"}]},
                )
                for response in (sse, v1):
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "database_unavailable"
                    assert response.headers["retry-after"] == "5"
                # An error event, or the handshake refused with 503 when authentication
                # itself needed the database (the API key's cached lookup expired).
                try:
                    event = await _ws_ask(base, "Anyone there?")
                    assert event["type"] == "error" and event["code"] == "database_unavailable"
                except InvalidStatus as refused:
                    assert refused.response.status_code == 503
                    assert refused.response.headers["retry-after"] == "5"
                    error = json.loads(refused.response.body)["error"]
                    assert error["code"] == "database_unavailable"
    finally:
        server.cleanup()


class _FreezableProxy:
    """A TCP proxy to PostgreSQL that can go silent: connections stay open and nothing passes,
    as in a network partition (no refusal, no reset)."""

    def __init__(self, socket_path: str) -> None:
        self.target = socket_path
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.upstream: list[asyncio.StreamWriter] = []
        self.port = 0

    async def __aenter__(self) -> _FreezableProxy:
        self.serving = tcp_server(self._client)
        self.port = port_of(await self.serving.__aenter__())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.flowing.set()
        await self.serving.__aexit__(*exc)  # the client sides, and their pumps
        for writer in self.upstream:
            writer.transport.abort()
        await asyncio.gather(*(w.wait_closed() for w in self.upstream), return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.flowing.wait()
        up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        self.upstream.append(up_writer)
        # Pumped inside this handler, so that the server's exit cancels both directions.
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            await self.flowing.wait()
            sink.write(data)
        sink.close()


async def test_a_silent_database_is_unavailable_not_overloaded(database_url: str):
    # Every connection busy, and a probe connection gets no answer: an outage, not a queue.
    # The embedded server listens on a Unix socket: postgresql://user:@/name?host=DIR
    base, _, socket_dir = database_url.partition("?host=")
    if not socket_dir.startswith("/"):
        pytest.skip("needs the embedded server's Unix socket (TEST_DATABASE_URL is set)")
    socket = next(p for p in Path(socket_dir).glob(".s.PGSQL.*") if p.suffix != ".lock")
    async with _FreezableProxy(str(socket)) as proxy:
        proxied = base.replace("@/", f"@127.0.0.1:{proxy.port}/", 1)
        pool = await create_pool(proxied, max_size=1, acquire_timeout=0.5)
        try:
            async with pool.acquire():  # the only connection, held
                proxy.flowing.clear()  # the network goes silent
                try:
                    with pytest.raises(TimeoutError) as waited:
                        async with pool.acquire():
                            pass
                finally:
                    proxy.flowing.set()
            assert not isinstance(waited.value, Overloaded)
            assert unavailable.is_unavailable(waited.value)
        finally:
            await pool.close()


async def test_a_completion_not_streamed_frees_its_place_once_its_sources_are_known(
    settings, fake_llm
):
    # The upstream stalls after its first token: the completion is still being answered.
    configured = settings_with(
        settings,
        ASK_CONCURRENCY="1",
        ASK_QUEUE_SIZE="0",
        LLM_BASE_URL=fake_llm.url,
        LLM_MODEL="stall",
    )
    with run_asgi(Application(configured, local=True)) as base:
        with httpx.Client(base_url=base, headers=AUTH, timeout=120) as sync_client:
            ingest(sync_client, "solar.md", SOLAR_GUIDE)
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as client:
            question = [{"role": "user", "content": "How efficient are solar panels?"}]
            first = asyncio.create_task(
                client.post("/v1/chat/completions", json={"model": "rag", "messages": question})
            )

            async def generating() -> bool:
                return bool(fake_llm.requests)

            await eventually(generating)
            # With no queue, a second ask is admitted only if the first gave its place back.
            async with client.stream("POST", "/api/chat", json={"question": "Panels?"}) as second:
                assert second.status_code == 200  # admitted (its answer stalls too: let go)
            assert not first.done()  # stalled until the client goes (or the 60 s read timeout)
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first
