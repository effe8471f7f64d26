"""Load benchmark of the deployment: Nginx (deploy/nginx.conf, TLS) -> gunicorn -> Postgres.

Many simulated users, each looping over a mixed workload for a fixed time: searches, asks
answered by a slow fake OpenAI-compatible LLM (a token every --token-ms; the SSE stream read to
its end), and small uploads. gunicorn runs WEB_CONCURRENCY=2 uvicorn workers, beside one
ingestion worker process. The same load runs straight at gunicorn and through Nginx, in
alternating phases of --seconds (so drift hits both alike), and the two are compared.

Prints, per path: requests per second, p50/p99 per kind, time to first token, errors, and each
web worker's RSS before and after; then Nginx's cost (throughput ratio, p50 added). Last line:
JSON with every figure.

    python bench/load.py [--users 50] [--seconds 15] [--rounds 2] [--token-ms 20]
                         [--web-concurrency 2]

Embeddings come from the fake server too (hashed words, no model in the workers): what is
measured is the web tier, not the embedding model. Only loopback is used; the client, Nginx,
gunicorn, Postgres and the fake LLM share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.embedded import start_embedded  # noqa: E402
from app.resources import run_migrations  # noqa: E402
from bench.search import api_key  # noqa: E402
from bench.smoke import parse_args  # noqa: E402
from tests.deploy.stack import run_stack  # noqa: E402
from tests.helpers import SOLAR_GUIDE  # noqa: E402

WORDS = "panels inverter battery roof sunlight efficiency cleaning output warranty grid".split()
ANSWER = [f"word{n} " for n in range(30)] + ["[1]."]


FAKE = """
import sys, time
from tests.fake_llm import FakeLLM
with FakeLLM(answer={answer!r}, token_seconds={seconds}) as fake:
    print(fake.url, flush=True)
    sys.stdin.read()  # until the benchmark closes it
"""


@contextlib.contextmanager
def fake_llm(token_seconds: float) -> Iterator[str]:
    """The fake LLM (and embeddings) server in a process of its own: in this one it would
    share the client's interpreter lock and slow both."""
    code = FAKE.format(answer=ANSWER, seconds=token_seconds)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.ttft: list[float] = []
        self.errors: Counter[str] = Counter()
        self.done = 0


async def search(client: httpx.AsyncClient, rec: Recorder) -> None:
    query = " ".join(random.sample(WORDS, 2))
    started = time.perf_counter()
    response = await client.get("/api/search", params={"q": query, "k": 5})
    if response.status_code != 200:
        rec.errors[f"search {response.status_code}"] += 1
        return
    rec.latency["search"].append(time.perf_counter() - started)


async def ask(client: httpx.AsyncClient, rec: Recorder) -> None:
    started = time.perf_counter()
    first = None
    ended = None
    body = {"question": f"How much {random.choice(WORDS)} do panels give?"}
    async with client.stream("POST", "/api/chat", json=body) as response:
        if response.status_code != 200:
            rec.errors[f"ask {response.status_code}"] += 1
            return
        async for line in response.aiter_lines():
            if first is None and line == "event: token":
                first = time.perf_counter() - started
            elif line in ("event: done", "event: error", "event: reconnect"):
                ended = line[7:]
    if ended != "done":
        rec.errors[f"ask ended {ended}"] += 1
        return
    rec.latency["ask"].append(time.perf_counter() - started)
    if first is not None:
        rec.ttft.append(first)


async def upload(client: httpx.AsyncClient, rec: Recorder) -> None:
    text = f"# Note {uuid.uuid4()}\n\n" + " ".join(random.choices(WORDS, k=200)) + "\n"
    started = time.perf_counter()
    response = await client.post("/api/documents", files={"file": ("note.md", text.encode())})
    if response.status_code != 202:
        rec.errors[f"upload {response.status_code}"] += 1
        return
    rec.latency["upload"].append(time.perf_counter() - started)


KINDS = [(search, 0.6), (ask, 0.3), (upload, 0.1)]
KEY = ""  # an admin's API key, made when the database is


async def user(base: str, verify: object, until: float, rec: Recorder) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        base_url=base, verify=verify, timeout=60, headers=headers
    ) as client:
        while time.monotonic() < until:
            kind = random.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
            try:
                await kind(client, rec)
                rec.done += 1
            except httpx.HTTPError as exc:
                rec.errors[f"{kind.__name__} {type(exc).__name__}"] += 1


async def phase(base: str, verify: object, users: int, seconds: float) -> Recorder:
    rec = Recorder()
    until = time.monotonic() + seconds
    await asyncio.gather(*(user(base, verify, until, rec) for _ in range(users)))
    return rec


def wait_ingested(client: httpx.Client, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        documents = client.get("/api/documents").json()["documents"]
        if all(d["status"] in ("ready", "failed") for d in documents):
            return
        time.sleep(0.5)
    raise RuntimeError("the seed documents were not ingested in time")


def workers_rss(master_port: int) -> dict[int, int]:
    """RSS (MB) of each gunicorn worker (the children of the process listening on the port)."""
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "gunicorn" in cmdline and proc.children():
            try:
                if any(c.laddr.port == master_port for c in proc.net_connections("tcp")):
                    return {c.pid: c.memory_info().rss // 2**20 for c in proc.children()}
            except psutil.Error:
                continue
    return {}


def summary(recs: list[Recorder], seconds: float) -> dict[str, object]:
    latency: dict[str, list[float]] = defaultdict(list)
    ttft: list[float] = []
    errors: Counter[str] = Counter()
    done = 0
    for rec in recs:
        for kind, values in rec.latency.items():
            latency[kind].extend(values)
        ttft.extend(rec.ttft)
        errors.update(rec.errors)
        done += rec.done
    out: dict[str, object] = {"rps": round(done / seconds, 1), "requests": done}
    for kind, values in sorted(latency.items()):
        out[kind] = {"n": len(values), "p50_ms": percentile(values, 0.5),
                     "p99_ms": percentile(values, 0.99)}  # fmt: skip
    out["ttft"] = {"p50_ms": percentile(ttft, 0.5), "p99_ms": percentile(ttft, 0.99)}
    out["errors"] = dict(errors)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--token-ms", type=float, default=20)
    parser.add_argument(
        "--web-concurrency", type=int, default=2, help="gunicorn workers (1: no balancing effect)"
    )
    args = parse_args(parser, users=3, seconds=1.0, rounds=1)

    directory = Path(tempfile.mkdtemp(prefix="bench-load-"))
    server = start_embedded(directory / "pg")
    try:
        url = server.get_uri()
        asyncio.run(run_migrations(url))
        global KEY
        KEY = asyncio.run(api_key(url))  # every /api request needs one
        with fake_llm(args.token_ms / 1000) as fake_url:
            env = {
                "DATABASE_URL": url, "DATA_DIR": str(directory / "data"),
                "WEB_CONCURRENCY": str(args.web_concurrency), "MAX_REQUESTS": "0",
                "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "LLM_BASE_URL": fake_url, "LLM_MODEL": "paced",
                "EMBEDDING_PROVIDER": "openai", "EMBEDDING_BASE_URL": fake_url,
                "EMBEDDING_MODEL": "hash",
                # The load is the point: no per-user limits.
                **{f"RATE_LIMIT_{kind}": "1000000/minute"
                   for kind in ("ASKS", "UPLOADS", "SEARCHES")},
            }  # fmt: skip
            with run_stack(env, directory) as stack:
                with stack.client(timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as client:
                    for n in range(20):
                        text = SOLAR_GUIDE + f"\n\nEdition {n}: " + " ".join(WORDS) + "\n"
                        client.post("/api/documents", files={"file": (f"g{n}.md", text)})
                    wait_ingested(client)
                port = int(stack.gunicorn.rsplit(":", 1)[1])
                asyncio.run(phase(stack.gunicorn, True, args.users, 3))  # warm-up, not counted
                rss_before = workers_rss(port)
                paths = {"direct": (stack.gunicorn, True), "nginx": (stack.https, stack.tls())}
                recs: dict[str, list[Recorder]] = {name: [] for name in paths}
                for _ in range(args.rounds):
                    for name, (base, verify) in paths.items():
                        recs[name].append(
                            asyncio.run(phase(base, verify, args.users, args.seconds))
                        )
                rss_after = workers_rss(port)
    finally:
        server.cleanup()

    total = args.seconds * args.rounds
    result: dict[str, object] = {name: summary(r, total) for name, r in recs.items()}
    direct, nginx = result["direct"], result["nginx"]
    assert isinstance(direct, dict) and isinstance(nginx, dict)
    result["nginx_throughput_ratio"] = round(nginx["rps"] / direct["rps"], 3)
    search_direct, search_nginx = direct.get("search", {}), nginx.get("search", {})
    if search_direct.get("p50_ms") and search_nginx.get("p50_ms"):
        result["nginx_added_p50_ms_search"] = round(
            search_nginx["p50_ms"] - search_direct["p50_ms"], 2
        )
    result["rss_mb_before"] = rss_before
    result["rss_mb_after"] = rss_after
    result["config"] = vars(args)
    for name in paths:
        print(f"{name}: {json.dumps(result[name])}")
    print(
        f"nginx/direct throughput {result['nginx_throughput_ratio']}, search p50 "
        f"+{result.get('nginx_added_p50_ms_search')} ms; worker RSS MB {rss_before} -> {rss_after}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
