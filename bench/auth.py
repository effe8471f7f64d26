"""The cost of authentication on a cached search: requests per second with an API key checked
on every request, and with authentication skipped for a fixed caller (no key check).

    python bench/auth.py [--seconds 5] [--rounds 3] [--concurrency 16]

One server process (uvicorn, uvloop + httptools, one worker) serving both modes, measured in
alternating rounds after a discarded one, on an embedded PostgreSQL (or
BENCH_DATABASE_URL, a server with pgvector); the same query every time, so every search after
the first is a cache hit. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth import tokens  # noqa: E402
from app.auth.passwords import hash_password  # noqa: E402
from app.db import users as user_sql  # noqa: E402
from app.db.embedded import create_database  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

MODES = ("key_check", "no_key_check")
QUERY = {"q": "How efficient are solar panels?", "k": "5"}
DOCUMENT = "# Solar\n\nModern panels convert about 22 percent of sunlight into electricity.\n"


def serve(port: int, user_id: str) -> None:
    """The site as deployed, and beside it one bypass composed from public parts only:
    requests marked X-Bench-No-Auth skip authentication and go straight to the routes
    (`Application.http`, behind the same access log) as a fixed admin. Nothing inside the app
    is replaced, so a change to the middleware cannot silently break the comparison
    (tests/bench runs this with --smoke)."""
    import uuid

    import uvicorn

    from app.asgi import Application
    from app.auth.principal import Principal
    from app.config import load_settings
    from app.infra.access import AccessLog

    app = Application(load_settings(), local=True)
    unauthenticated = AccessLog(app.http)
    caller = Principal(uuid.UUID(user_id), "bench@example.org", "admin", "key")

    async def bench_app(scope, receive, send) -> None:
        if scope["type"] == "http" and (b"x-bench-no-auth", b"1") in scope["headers"]:
            scope["state"]["principal"] = caller
            return await unauthenticated(scope, receive, send)
        await app(scope, receive, send)

    uvicorn.run(
        bench_app,
        host="127.0.0.1",
        port=port,
        loop="app.infra.event_loop:new_event_loop",
        http="httptools",
        log_level="warning",
        lifespan="on",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): less shaken by the machine's
    other load than requests per second are."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    base: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, int]:
    """(requests per second, requests) of GET /api/search with the same query, `concurrency`
    at a time."""
    done = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
        for _ in range(20):  # warm: the first search embeds and fills the cache
            (await client.get("/api/search", params=QUERY)).raise_for_status()
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                response = await client.get("/api/search", params=QUERY)
                response.raise_for_status()
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - started), done


def start_server(url: str, user_id: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_SEARCHES": "100000000/minute",  # counted, never reached
    }
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), user_id], cwd=ROOT, env=env
    )
    return server, f"http://127.0.0.1:{port}"


async def wait_ready(base: str, headers: dict[str, str], upload: bool) -> None:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        deadline = time.monotonic() + 180
        while True:
            try:
                (await client.get("/healthz")).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        if upload:  # once: the document, ingested by that server's in-process worker
            files = {"file": ("solar.md", DOCUMENT.encode())}
            document = (await client.post("/api/documents", files=files)).json()["document"]
            while document["status"] not in ("ready", "failed"):
                await asyncio.sleep(0.2)
                path = f"/api/documents/{document['id']}"
                document = (await client.get(path)).json()["document"]


async def measure(
    url: str, user_id: str, key: str, args
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """One server, the two modes in turns (the machine's other load hits both alike)."""
    key_headers = {"Authorization": f"Bearer {key}"}
    headers = {"key_check": key_headers, "no_key_check": {"X-Bench-No-Auth": "1"}}
    server, base = start_server(url, user_id)
    try:
        await wait_ready(base, key_headers, upload=True)
        for mode in MODES:  # a first round, not counted: connections and caches warm
            await load(base, headers[mode], 1, args.concurrency)
        rates: dict[str, list[float]] = {mode: [] for mode in MODES}
        cpu = {mode: 0.0 for mode in MODES}
        requests = {mode: 0 for mode in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                before = cpu_seconds(server.pid)
                rate, done = await load(base, headers[mode], args.seconds, args.concurrency)
                cpu[mode] += cpu_seconds(server.pid) - before
                requests[mode] += done
                rates[mode].append(rate)
        return rates, {mode: cpu[mode] / requests[mode] * 1000 for mode in MODES}
    finally:
        server.terminate()
        server.wait(60)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5, help="per round and mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parse_args(parser, seconds=0.3, rounds=1, concurrency=4)
    server = None
    admin = os.environ.get("BENCH_DATABASE_URL")
    if not admin:
        from app.db.embedded import start_embedded

        server = start_embedded(Path(tempfile.mkdtemp(prefix="bench-auth-")))
        admin = server.get_uri()
    url = await create_database(admin, "bench_auth")
    name = url.partition("?")[0].rsplit("/", 1)[1]
    try:
        await run_migrations(url)
        conn = await asyncpg.connect(url)
        user_id = await user_sql.create_user(
            conn, "bench@example.org", hash_password("bench password"), "admin"
        )
        key, prefix = tokens.new_api_key()
        await user_sql.create_key(conn, user_id, "bench", prefix, tokens.digest(key))
        await conn.close()
        rates, cpu_ms = await measure(url, str(user_id), key, args)
        with_key, without = (statistics.median(rates[mode]) for mode in MODES)
        result = {
            "rps_with_key_check": round(with_key, 1),
            "rps_without_key_check": round(without, 1),
            "auth_cost_percent": round((1 - with_key / without) * 100, 1),
            "server_cpu_ms_per_request": {mode: round(cpu_ms[mode], 3) for mode in MODES},
            "auth_cpu_cost_percent": round(
                (cpu_ms["key_check"] / cpu_ms["no_key_check"] - 1) * 100, 1
            ),
            "rounds": {mode: [round(r, 1) for r in rates[mode]] for mode in MODES},
            "seconds_per_round": args.seconds,
            "concurrency": args.concurrency,
        }
        print(json.dumps(result))
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await conn.close()
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        asyncio.run(main())
