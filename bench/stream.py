"""Benchmark answer streaming. Last line of output: JSON with every figure.

1. Time to first token of the extractive answer with 10,000 chunks loaded (COPY) into a fresh
   database, with chunk and sentence vectors from the model as ingestion stores them:
   sequential questions, measured at the client (p50, p99).
2. Concurrent answer streams one uvicorn worker sustains when the upstream LLM is slow (a token
   every 50 ms from a fake OpenAI-compatible server on loopback, in its own process): for each
   level, the server's RSS per stream and the p99 gap between tokens at the client.

    python bench/stream.py [--chunks 10000] [--questions 100] [--levels 500,1000,2000]

With --questions 0 (part 2 only) the chunks get random unit vectors instead: search cost does
not depend on their meaning, and embedding 10,000 chunks takes minutes. Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db.chunks import INSERT_COLUMNS  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.ingest.embed import embed_sorted  # noqa: E402
from app.rag.embedders.local import LocalEmbedder  # noqa: E402
from app.resources import run_migrations  # noqa: E402

TOPICS = [
    "solar panels convert sunlight into electricity with an efficiency near 22 percent",
    "heat pumps move warmth from outside air into a house even in winter",
    "batteries store surplus energy from the afternoon for use in the evening",
    "wind turbines turn faster on hills and near the coast where winds are steady",
    "insulation in the roof keeps a house warm and cuts the heating bill",
]
WORDS = "the of energy house power grid panel roof winter summer cost price meter cable".split()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- set-up -----------------------------------------------------------------------------------


def chunk_texts(count: int) -> list[str]:
    random.seed(7)
    texts = []
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)].capitalize()
        filler = " ".join(random.choices(WORDS, k=40))
        texts.append(f"Note {i}: {topic}. The {filler}. See also note {i + 1}.")
    return texts


async def embed_chunks(texts: list[str]) -> tuple[np.ndarray, list[bytes | None]]:
    """Chunk and sentence vectors from the model, as ingestion stores them."""
    embedder = await LocalEmbedder.load(None)
    try:
        return await embed_sorted(embedder, texts)
    finally:
        await embedder.close()


async def load_chunks(url: str, count: int, real_vectors: bool) -> None:
    texts = chunk_texts(count)
    if real_vectors:  # the extractive answer ranks the stored sentence vectors
        vectors, sentences = await embed_chunks(texts)
    else:  # search cost does not depend on the vectors' meaning
        rng = np.random.default_rng(7)
        vectors = rng.standard_normal((count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        sentences = [None] * count
    pool = await create_pool(url)
    try:
        async with pool.acquire() as conn, conn.transaction():
            document = await conn.fetchval(
                """INSERT INTO documents (title, source, media_type, sha256, size_bytes, status)
                   VALUES ('Synthetic', 'synthetic.md', 'text/markdown', $1, 0, 'ready')
                   RETURNING id""",
                uuid.uuid4().hex,
            )
            records = [
                (document, i, text, [], None, 0, len(text), 60, vectors[i], sentences[i])
                for i, text in enumerate(texts)
            ]
            await conn.copy_records_to_table("chunks", columns=INSERT_COLUMNS, records=records)
            await conn.execute("UPDATE documents SET chunk_count = $1", count)
    finally:
        await pool.close()


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """One uvicorn worker (uvloop + httptools) in its own process, as gunicorn runs it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--loop", "uvloop", "--http", "httptools",
         "--log-level", "warning", "--backlog", "4096"],
        cwd=ROOT, env={**os.environ, **env},
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("uvicorn did not start")


# --- a lightweight SSE client -----------------------------------------------------------------


OPEN = [0, 0]  # answers streaming tokens right now, and the most there were at once


async def ask(port: int, question: str) -> tuple[float | None, list[float], bool]:
    """(time to first token, gaps between token reads, ended with done) for one answer."""
    body = json.dumps({"question": question}).encode()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    first, last, gaps, ok, tail = None, None, [], False, b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.perf_counter()
            window = tail + data
            tail = data[-32:]
            if b"event: token" in window:
                if first is None:
                    first = now - started
                    OPEN[0] += 1
                    OPEN[1] = max(OPEN[1], OPEN[0])
                elif last is not None:
                    gaps.append(now - last)
                last = now
            if b"event: done" in window:
                ok = True
                break
            if b"event: error" in window:
                break
    finally:
        writer.close()
        if first is not None:
            OPEN[0] -= 1
    return first, gaps, ok


async def time_to_first_token(port: int, questions: int) -> list[float]:
    for _ in range(3):  # warm up: caches, pool connections, the model's first run
        await ask(port, "How efficient are solar panels?")
    firsts = []
    for i in range(questions):
        first, _, ok = await ask(port, f"What about {TOPICS[i % len(TOPICS)].split()[0]} {i}?")
        if ok and first is not None:
            firsts.append(first * 1000)
    return firsts


async def level(port: int, pid: int, streams: int, ramp: float) -> dict[str, float]:
    process = psutil.Process(pid)
    idle = process.memory_info().rss
    peak = idle
    OPEN[:] = [0, 0]
    tasks = []
    for i in range(streams):
        tasks.append(asyncio.create_task(ask(port, f"How do {TOPICS[i % 5].split()[0]} work?")))
        await asyncio.sleep(ramp / streams)
    while not all(t.done() for t in tasks):
        # RSS is only sampled while the level is at its fullest (memory is per open stream).
        if OPEN[0] >= OPEN[1]:
            peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.2)
    results = [t.result() for t in tasks]
    gaps = [g * 1000 for _, stream_gaps, _ in results for g in stream_gaps]
    return {
        "streams": streams,
        "completed": sum(1 for _, _, ok in results if ok),
        # Streams can only open as fast as questions are embedded and searched: how many
        # really streamed at the same time.
        "peak_concurrent": OPEN[1],
        "rss_per_stream_kb": round((peak - idle) / max(OPEN[1], 1) / 1024, 1),
        "token_gap_p50_ms": round(percentile(gaps, 50), 1),
        "token_gap_p99_ms": round(percentile(gaps, 99), 1),
    }


# --- a slow OpenAI-compatible upstream --------------------------------------------------------


def run_upstream(port: int, token_ms: float, tokens: int) -> None:
    import uvloop

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests per connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                for _ in range(tokens):
                    chunk = b'data: {"choices":[{"delta":{"content":" word"}}]}\n\n'
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
                    await asyncio.sleep(token_ms / 1000)
                end = b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
                writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        await server.serve_forever()

    uvloop.run(main())


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100, help="0 skips part 1")
    parser.add_argument("--levels", default="500,1000,2000")
    parser.add_argument("--token-ms", type=float, default=50)
    # 60 s answers: long enough for a level's streams to overlap while the rest open.
    parser.add_argument("--tokens", type=int, default=1200)
    parser.add_argument("--ramp", type=float, default=4.0, help="seconds to open each level")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' for Postgres")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        return run_upstream(args.upstream, args.token_ms, args.tokens)

    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    pg = start_embedded(tmp)
    admin = pg.get_uri()
    url = asyncio.run(create_database(admin, "bench"))

    async def create() -> None:
        await run_migrations(url)
        await load_chunks(url, args.chunks, real_vectors=args.questions > 0)

    t0 = time.perf_counter()
    asyncio.run(create())
    print(f"embedded and loaded {args.chunks} chunks in {time.perf_counter() - t0:.1f} s")
    env = {"DATABASE_URL": url, "DATA_DIR": str(tmp), "LOG_LEVEL": "WARNING"}
    if args.redis:
        env["REDIS_URL"] = args.redis
    result: dict[str, object] = {"chunks": args.chunks}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        app, port = serve(env)
        processes.append(app)
        if args.questions:
            firsts = asyncio.run(time_to_first_token(port, args.questions))
            result["first_token_ms"] = {
                "p50": round(percentile(firsts, 50), 1),
                "p99": round(percentile(firsts, 99), 1),
                "n": len(firsts),
            }
            print(f"extractive first token: {result['first_token_ms']}")
        app.terminate()

        upstream_port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--upstream",
                    str(upstream_port),
                    "--token-ms",
                    str(args.token_ms),
                    "--tokens",
                    str(args.tokens),
                ],
            )  # fmt: skip
        )
        time.sleep(1)
        llm_env = {**env, "LLM_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1"}
        app, port = serve(llm_env)
        processes.append(app)
        asyncio.run(ask(port, "warm up?"))
        levels = []
        for streams in [int(n) for n in args.levels.split(",")]:
            figures = asyncio.run(level(port, app.pid, streams, args.ramp))
            print(f"slow upstream ({args.token_ms:g} ms/token): {figures}")
            levels.append(figures)
        sustained = [
            lv["streams"]
            for lv in levels
            if lv["completed"] == lv["streams"] and lv["token_gap_p99_ms"] < 250
        ]
        # What one worker held at once with every level's streams complete and p99 < 250 ms.
        concurrent = [
            lv["peak_concurrent"]
            for lv in levels
            if lv["completed"] == lv["streams"] and lv["token_gap_p99_ms"] < 250
        ]
        result.update(
            upstream_token_ms=args.token_ms,
            log_backend="redis" if args.redis else "postgres",
            levels=levels,
            sustained_streams=max(sustained, default=0),
            sustained_concurrent=max(concurrent, default=0),
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        pg.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
