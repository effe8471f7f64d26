"""Benchmark answer streaming. Last line of output: JSON with every figure.

Each level reports: streams completed; refused (`overloaded`: a 503 with Retry-After before
the stream, as admission answers past its queue, or an error event) and how soon those clients
were told; other errors by code; first token p50/p99; the admission queue's peak (from the
worker's /metrics: exact when the level raised the peak since start, else sampled every
0.25 s), the server's count of refusals by reason, and pool acquires that timed out.

1. Time to first token of the extractive answer with 10,000 chunks loaded (COPY) into a fresh
   database, with chunk and sentence vectors from the model as ingestion stores them:
   sequential questions, measured at the client (p50, p99).
2. Concurrent answer streams one uvicorn worker sustains when the upstream LLM is slow (a token
   every 50 ms from a fake OpenAI-compatible server on loopback, in its own process): for each
   level, how many streams were open at once, the worker's RSS per open stream, the p50/p99
   gap between token reads at the client, the time from request to first token (how fast the
   level opened), and the streams that ended in an error event (by code) or not at all.

    python bench/stream.py [--chunks 10000] [--questions 100] [--levels 500,1000,2000]

What part 2 measures: the real app in its own uvicorn process (uvloop + httptools, as gunicorn
runs it), real HTTP over loopback on both sides, and the RSS of that process. The client and
the fake upstream share the machine's cores with the worker, so both are made cheap without
changing what is measured: the client is one asyncio protocol per stream under uvloop (a
gap is still measured per stream, between two reads that hold a token), and the upstream
writes every open stream's next token from one ticker, each stream every `--token-ms` (streams
are spread over ten phases so their tokens do not all arrive at once). Each level opens its
streams over `--ramp` seconds; answers last 1200 tokens (60 s) so the level's streams overlap.
A gap is between two reads that hold a token event: how long the text stands still for a
reader (events that arrive together count once).

With --questions 0 (part 2 only) the chunks get random unit vectors instead: search cost does
not depend on their meaning, and embedding 10,000 chunks takes minutes. Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import psutil
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db.chunks import INSERT_COLUMNS  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.db.pool import create_pool  # noqa: E402
from app.embedders.local import LocalEmbedder  # noqa: E402
from app.ingest.embed import embed_sorted  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

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
    pool = await create_pool(url, statement_timeout=None)  # the HNSW build takes minutes
    try:
        async with pool.acquire() as conn, conn.transaction():
            # The HNSW index built once after the COPY: grown row by row, it made a
            # 100,000-chunk load take about 9 minutes on 2 cores (bench/reindex.py).
            hnsw = await conn.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_embedding_idx'"
            )
            await conn.execute("DROP INDEX chunks_embedding_idx")
            if memory := os.environ.get("BENCH_INDEX_MEMORY"):  # as bench/search.py
                # At 1,000,000 chunks the graph outgrows the embedded server's default
                # and the build goes on inserting row by row, far slower.
                await conn.execute(f"SET LOCAL maintenance_work_mem = '{memory}'")
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
            await conn.execute(hnsw)  # the migrations' own definition
        await pool.execute("VACUUM ANALYZE chunks")
    finally:
        await pool.close()


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """One uvicorn worker (uvloop + httptools) in its own process, as gunicorn runs it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--loop", "app.infra.event_loop:new_event_loop",
         "--http", "httptools", "--log-level", "warning", "--backlog", "4096"],
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
# Every /api request needs a key: the bench makes an admin's (bench_key) before it asks.
AUTHORIZATION = b""


async def bench_key(url: str) -> bytes:
    """The Authorization header line of an admin's key (every ask needs one)."""
    from bench.search import api_key

    return f"Authorization: Bearer {await api_key(url)}\r\n".encode()


async def ask(port: int, question: str) -> tuple[float | None, list[float], bool]:
    """(time to first token, gaps between token reads, ended with done) for one answer."""
    body = json.dumps({"question": question}).encode()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + AUTHORIZATION
        + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
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


class Stream(asyncio.Protocol):
    """One answer read by a protocol, not a coroutine: no task wake-up per read."""

    def __init__(self, request: bytes, first_only: bool = False) -> None:
        self.request = request
        self.first_only = first_only  # warm-up: hang up after the first token
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.started = time.perf_counter()
        self.first: float | None = None  # seconds from the request to the first token
        self.last: float | None = None
        self.gaps: list[float] = []
        self.tail = b""
        self.ok = False
        self.error = b""  # the error event's data, if the answer ended with one
        self.status = 0  # the response's HTTP status, once its first bytes arrived
        self.answered: float | None = None  # seconds from the request to a whole refusal

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.status:
            self.status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else -1
        if self.status != 200:  # refused (503 overloaded) or failed: the body says why
            self.error += data
            head, _, body = self.error.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            if not length or len(body) >= int(length.group(1)):
                self.answered = now - self.started
                self.transport.close()
            return
        window = self.tail + data  # an event name can be split across two reads
        self.tail = window[-11:]  # too short to hold "event: token" whole: no double count
        if b"event: token" in window:
            if self.last is None:
                self.first = now - self.started
                OPEN[0] += 1
                OPEN[1] = max(OPEN[1], OPEN[0])
            else:
                self.gaps.append(now - self.last)
            self.last = now
            if self.first_only:
                self.transport.close()
        if b"event: done" in window:
            self.ok = True
            self.transport.close()
        elif b"event: error" in window:
            self.error = window[window.index(b"event: error") :]
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.last is not None:
            OPEN[0] -= 1
        if not self.done.done():
            self.done.set_result(self.ok)


async def stream(port: int, question: str, first_only: bool = False) -> Stream:
    body = json.dumps({"question": question}).encode()
    request = (
        b"POST /api/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + AUTHORIZATION
        + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_connection(
            lambda: Stream(request, first_only), "127.0.0.1", port
        )
    except OSError as exc:  # the listen backlog overflowed, say: an error all the same
        failed = Stream(request)
        failed.error = f'"code": "connect_{type(exc).__name__}"'.encode()
        return failed
    try:
        await protocol.done
    except asyncio.CancelledError:  # the level ran out of time: an incomplete answer
        protocol.transport.close()
    return protocol


def _error_code(event: bytes) -> str:
    found = re.search(rb'"code": ?"(\w+)"', event)
    return found.group(1).decode() if found else "?"


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def scrape(port: int) -> str:
    """The app's /metrics text ('' when it does not answer in time)."""
    try:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            text = (await reader.read()).decode(errors="replace")
            writer.close()
            return text
    except (OSError, TimeoutError):
        return ""


async def watch_queue(port: int, peak: list[float]) -> None:
    """Sample the admission queue's depth every 0.25 s (the per-process peak gauge only says
    the most since the worker started)."""
    while True:
        text = await scrape(port)
        peak[0] = max(peak[0], _metric(text, "ask_queue_depth"))
        await asyncio.sleep(0.25)


async def level(port: int, pid: int, streams: int, ramp: float, limit: float) -> dict[str, float]:
    process = psutil.Process(pid)
    idle = process.memory_info().rss
    peak = idle
    OPEN[:] = [0, 0]
    tasks = []
    before = await scrape(port)
    sampled = [0.0]
    watcher = asyncio.create_task(watch_queue(port, sampled))
    started = time.perf_counter()
    for i in range(streams):
        question = f"How do {TOPICS[i % 5].split()[0]} work?"
        tasks.append(asyncio.create_task(stream(port, question)))
        # Paced against the clock: sleeps of 2 ms would drift.
        await asyncio.sleep(max(0.0, started + ramp * (i + 1) / streams - time.perf_counter()))
    while not all(t.done() for t in tasks) and time.perf_counter() < started + limit:
        # RSS is only sampled while the level is at its fullest (memory is per open stream).
        if OPEN[0] >= OPEN[1]:
            peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()  # those still open after `limit` count as not completed
    watcher.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    after = await scrape(port)
    answers = [r for r in results if isinstance(r, Stream)]
    gaps = [g * 1000 for r in answers for g in r.gaps]
    firsts = [r.first for r in answers if r.first is not None]
    codes = Counter(_error_code(r.error) for r in answers if r.error)
    refused = [r for r in answers if r.error and _error_code(r.error) == "overloaded"]
    told = [r.answered for r in refused if r.status == 503 and r.answered is not None]
    unfinished = sum(1 for r in answers if not r.ok and not r.error)
    # The peak gauge is the most since the worker started: exact when this level raised it.
    peak_before = _metric(before, "ask_queue_peak")
    peak_after = _metric(after, "ask_queue_peak")
    refusals = {
        reason: _metric(after, f'asks_refused_total{{reason="{reason}"}}')
        - _metric(before, f'asks_refused_total{{reason="{reason}"}}')
        for reason in ("queue_full", "waited_too_long")
    }
    return {
        "streams": streams,
        "completed": sum(1 for r in answers if r.ok),
        "refused": len(refused),  # overloaded: a 503 before the stream, or its error event
        "other_errors": sum(codes.values())
        - len(refused)
        + unfinished
        + len(results)
        - len(answers),
        "errors": dict(codes) | ({"unfinished": unfinished} if unfinished else {}),
        "refused_told_p99_s": round(percentile(told, 99), 2) if told else None,
        "refused_told_max_s": round(max(told), 2) if told else None,
        "server_refusals": refusals,
        "queue_peak": int(peak_after if peak_after > peak_before else sampled[0]),
        "pool_timeouts": _metric(after, "db_pool_timeouts_total")
        - _metric(before, "db_pool_timeouts_total"),
        # Streams can only open as fast as questions are embedded and searched: how many
        # really streamed at the same time.
        "peak_concurrent": OPEN[1],
        "rss_per_stream_kb": round((peak - idle) / max(OPEN[1], 1) / 1024, 1),
        # The web worker's whole RSS before the level and at its fullest (goal: idle <= 250 MB).
        "rss_idle_mb": round(idle / 2**20),
        "rss_peak_mb": round(peak / 2**20),
        "token_gap_p50_ms": round(percentile(gaps, 50), 1),
        "token_gap_p99_ms": round(percentile(gaps, 99), 1),
        # From the request to the first token: how long the level took to open.
        "first_token_p50_s": round(percentile(firsts, 50), 2),
        "first_token_p99_s": round(percentile(firsts, 99), 2),
        "first_token_max_s": round(max(firsts, default=float("nan")), 2),
    }


# --- a slow OpenAI-compatible upstream --------------------------------------------------------


SLOTS = 10  # phases the streams are spread over, so their tokens do not all arrive at once
TOKEN = b'data: {"choices":[{"delta":{"content":" word"}}]}\n\n'
END = b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
TOKEN_CHUNK = b"%x\r\n%s\r\n" % (len(TOKEN), TOKEN)  # framed once, written 40,000 times a second
END_CHUNKS = b"%x\r\n%s\r\n0\r\n\r\n" % (len(END), END)


def run_upstream(port: int, token_ms: float, tokens: int) -> None:
    """A model server that streams `tokens` tokens, one every `token_ms`, on every request."""
    slots: list[set[Upstream]] = [set() for _ in range(SLOTS)]
    arrivals = [0]

    class Upstream(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""
            self.left = 0

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            head, sep, body = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) < length:
                return
            self.buffer = body[length:]  # keep-alive: the next request may follow
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            self.left = tokens
            arrivals[0] += 1
            slots[arrivals[0] % SLOTS].add(self)

        def tick(self) -> bool:
            """Write the next token (or the end); False once the answer is complete."""
            if self.transport.is_closing():
                return False
            self.left -= 1
            self.transport.write(TOKEN_CHUNK if self.left >= 0 else END_CHUNKS)
            return self.left >= 0

        def connection_lost(self, exc: Exception | None) -> None:
            for slot in slots:
                slot.discard(self)

    async def ticker() -> None:
        # Each slot is served every token_ms, one slot every token_ms / SLOTS.
        loop = asyncio.get_running_loop()
        step = token_ms / 1000 / SLOTS
        due = loop.time()
        for n in itertools.count():
            slot = slots[n % SLOTS]
            for upstream in list(slot):
                if not upstream.tick():
                    slot.discard(upstream)
            due += step
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=4096)
        async with server:
            await ticker()

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
    args = parse_args(
        parser, chunks=300, questions=3, levels="5", tokens=20, token_ms=10.0, ramp=0.5
    )
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
        global AUTHORIZATION
        await run_migrations(url)
        await load_chunks(url, args.chunks, real_vectors=args.questions > 0)
        AUTHORIZATION = await bench_key(url)

    t0 = time.perf_counter()
    asyncio.run(create())
    print(f"embedded and loaded {args.chunks} chunks in {time.perf_counter() - t0:.1f} s")
    # One web worker, the only one on the machine: sized for all its cores (app/infra/capacity.py).
    env = {"DATABASE_URL": url, "DATA_DIR": str(tmp), "LOG_LEVEL": "WARNING"}
    env["WEB_CONCURRENCY"] = "1"
    env |= {"ALLOWED_HOSTS": "bench,127.0.0.1", "RATE_LIMIT_ASKS": "0/minute"}  # a load test
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
        uvloop.run(stream(port, "warm up?", first_only=True))
        levels = []
        for streams in [int(n) for n in args.levels.split(",")]:
            # Streams still open at 1.5 times the answer's length count as failed.
            limit = args.ramp + 1.5 * args.tokens * args.token_ms / 1000 + 10
            figures = uvloop.run(level(port, app.pid, streams, args.ramp, limit))
            # Issue 28's goal: only `overloaded` refusals, each told within 2 s, and what was
            # admitted streams with token gaps p99 < 250 ms.
            told = figures["refused_told_max_s"]
            figures["goal_met"] = (
                figures["other_errors"] == 0
                and (told is None or told <= 2.0)
                and figures["token_gap_p99_ms"] < 250
            )
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
