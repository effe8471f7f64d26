"""Memory of one web worker, run as the Procfile runs it. Last line of output: JSON.

    python bench/memory.py [--streams 500] [--searches 50] [--asks 20] [--chunks 1000]

A fresh embedded database gets --chunks chunks with the vectors ingestion stores (bench/stream.py
makes them); `gunicorn app.asgi:application -c gunicorn.conf.py` (the Procfile's web process)
runs with WEB_CONCURRENCY=1 and the default embedder (int8 MiniLM on ONNX Runtime), and the
gunicorn worker's RSS (VmRSS) is read:

1. The default site (extractive answers, no LLM):
   - `rss_started_mb`: once /readyz answers, before any request;
   - `rss_idle_mb`: a few seconds after --searches searches and --asks answers, one after
     another (the issue's "idle": goal <= 250 MB);
   each with its parts: the process's own pages (anon) and mapped files' (file: libraries and
   the language model, shared with every process that maps them).
2. Answers from a slow fake OpenAI-compatible server (bench/stream.py's, in its own process),
   in a second gunicorn:
   - `rss_before_streams_mb`: after --searches searches;
   - `rss_streams_mb`: when the most of --streams answer streams (opened over --ramp s) were
     open at once (`streams_open`; `stream_errors` counts those refused or failed, by code);
   - `rss_after_streams_mb`: a few seconds after they all closed.

plus the gunicorn master's RSS. For the memory ingestion takes, see bench/ingest.py's
`worker_peak_rss_mb` (a batch with a --pdf-pages PDF).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import psutil
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.stream as streaming  # noqa: E402
from app.db.embedded import create_database, start_embedded  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.smoke import parse_args  # noqa: E402

SETTLE_SECONDS = 3.0  # after a phase, before its RSS is read: what it freed is given back


def rss_mb(pid: int) -> int:
    return round(psutil.Process(pid).memory_info().rss / 2**20)


def rss_parts_mb(pid: int) -> dict[str, int]:
    """RSS split as the kernel counts it: the process's own memory (anon) and mapped files'
    pages (file: shared with every process that maps them, reclaimable)."""
    parts = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile", "RssShmem"):
            parts[name[3:].lower()] = round(int(value.split()[0]) / 1024)
    return parts


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(60)


def start_gunicorn(env: dict[str, str], port: int) -> tuple[subprocess.Popen[bytes], int]:
    """The Procfile's web process with one worker; (master, the worker's pid) once ready."""
    master = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app.asgi:application", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {master.returncode}")
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/readyz", headers={"Host": "bench"}
            )
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    workers = psutil.Process(master.pid).children()
                    return master, workers[0].pid
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


def search(port: int, query: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/search?q={urllib.request.quote(query)}&k=10",
        headers={
            "Host": "bench",
            "Authorization": streaming.AUTHORIZATION.decode().split(": ", 1)[1].strip(),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


async def warm_up(port: int, searches: int, asks: int) -> None:
    """Searches, then whole answers, one after another."""
    for i in range(searches):
        topic = streaming.TOPICS[i % len(streaming.TOPICS)].split()[0]
        await asyncio.to_thread(search, port, f"how do {topic} work {i}")
    for i in range(asks):
        topic = streaming.TOPICS[i % len(streaming.TOPICS)].split()[0]
        answer = await streaming.stream(port, f"How efficient are {topic} ({i})?")
        if not answer.ok:
            raise RuntimeError(f"an answer failed: {answer.error[:300]!r}")


async def hold_streams(port: int, pid: int, count: int, ramp: float, limit: float) -> dict:
    """Open `count` answer streams over `ramp` s; the worker's RSS when the most were open."""
    streaming.OPEN[:] = [0, 0]
    started = time.perf_counter()
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(streaming.stream(port, f"How do heat pumps work {i}?")))
        await asyncio.sleep(max(0.0, started + ramp * (i + 1) / count - time.perf_counter()))
    most, at_most = 0, 0
    while time.perf_counter() < started + limit and not all(t.done() for t in tasks):
        if streaming.OPEN[0] >= most:  # as many open as ever: sample
            most, at_most = streaming.OPEN[0], max(at_most, rss_mb(pid))
            if most >= count:
                await asyncio.sleep(SETTLE_SECONDS)  # all open: hold them a moment
                at_most = max(at_most, rss_mb(pid))
                break
        await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()  # the client hangs up: the worker ends each stream
    answers = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if r]
    errors = Counter(streaming._error_code(r.error) for r in answers if getattr(r, "error", b""))
    return {"streams_open": most, "stream_errors": dict(errors), "rss_streams_mb": at_most}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds to open the streams")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' for in-process")
    args = parse_args(parser, streams=5, searches=3, asks=2, chunks=100, ramp=0.5)

    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    pg = start_embedded(tmp)
    url = asyncio.run(create_database(pg.get_uri(), "bench"))

    async def create() -> None:
        await run_migrations(url)
        # With the vectors ingestion stores (sentence vectors too): what answers read.
        await streaming.load_chunks(url, args.chunks, real_vectors=True)
        streaming.AUTHORIZATION = await streaming.bench_key(url)

    asyncio.run(create())
    processes: list[subprocess.Popen[bytes]] = []
    result: dict[str, object] = {"chunks": args.chunks}
    env = {
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp),
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "1",
        "ALLOWED_HOSTS": "bench,127.0.0.1",
        "RATE_LIMIT_ASKS": "0/minute",  # a load test
        "RATE_LIMIT_SEARCHES": "0/minute",
    }
    if args.redis:
        env["REDIS_URL"] = args.redis
    try:
        # 1. The default site (extractive answers): started, then idle after some use.
        port = streaming.free_port()
        master, pid = start_gunicorn(env, port)
        processes.append(master)
        time.sleep(SETTLE_SECONDS)
        result["rss_started_mb"] = rss_mb(pid)
        result["rss_started_parts_mb"] = rss_parts_mb(pid)
        uvloop.run(warm_up(port, args.searches, args.asks))
        time.sleep(SETTLE_SECONDS)
        result["rss_idle_mb"] = rss_mb(pid)
        result["rss_idle_parts_mb"] = rss_parts_mb(pid)
        result["master_rss_mb"] = rss_mb(master.pid)
        stop(processes.pop())

        # 2. Answers from a slow LLM, long enough for every stream to be open at once.
        token_ms, tokens = 50, int((args.ramp + 30) * 1000 / 50)  # ramp + 30 s
        upstream = streaming.free_port()
        script = str(ROOT / "bench" / "stream.py")
        upstream_args = ["--upstream", str(upstream), "--token-ms", str(token_ms)]
        upstream_args += ["--tokens", str(tokens)]
        processes.append(subprocess.Popen([sys.executable, script, *upstream_args]))
        env["LLM_BASE_URL"] = f"http://127.0.0.1:{upstream}/v1"
        port = streaming.free_port()
        master, pid = start_gunicorn(env, port)
        processes.append(master)
        uvloop.run(warm_up(port, args.searches, 0))
        time.sleep(SETTLE_SECONDS)
        before = result["rss_before_streams_mb"] = rss_mb(pid)
        held = uvloop.run(hold_streams(port, pid, args.streams, args.ramp, args.ramp + 40))
        result |= held
        time.sleep(SETTLE_SECONDS)
        result["rss_after_streams_mb"] = rss_mb(pid)
        per_stream = (held["rss_streams_mb"] - before) * 1024 / max(held["streams_open"], 1)
        result["rss_per_stream_kb"] = round(per_stream, 1)
        result["load"] = os.getloadavg()[0]
        print(f"web worker memory: {result}")
    finally:
        for process in reversed(processes):
            stop(process)
        pg.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
