"""The web process's event loop (app/infra/event_loop.py): a server accepts every waiting connection
per turn, not one; real sockets on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from app.infra.event_loop import Loop, new_event_loop

BURST = 300


def run(main: Callable[[asyncio.AbstractEventLoop], Awaitable[object]], loop=None) -> object:
    loop = loop or new_event_loop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


async def accept_burst(loop: asyncio.AbstractEventLoop) -> tuple[int, int]:
    """(connections accepted, turns it took) for BURST waiting connections on a busy loop."""
    accepted = []

    class Counting(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.append(transport)

    server = await loop.create_server(Counting, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(BURST)]
    turns = [0]

    def busy() -> None:  # a worker with streams to serve: every turn does some work
        time.sleep(0.002)
        turns[0] += 1
        loop.call_soon(busy)

    loop.call_soon(busy)
    while len(accepted) < BURST and turns[0] < 2 * BURST:
        await asyncio.sleep(0.01)
    server.close()
    for sock in clients:
        sock.close()
    return len(accepted), turns[0]


def test_a_burst_of_connections_is_accepted_in_a_few_turns_of_a_busy_loop():
    accepted, turns = run(accept_burst)
    assert accepted == BURST
    assert turns < BURST / 10
    # What it fixes: plain uvloop takes one connection per turn.
    accepted, turns = run(accept_burst, uvloop.new_event_loop())
    assert turns >= BURST - 5


def test_a_closed_server_refuses_connections_and_others_pass_through():
    async def main(loop: asyncio.AbstractEventLoop) -> None:
        assert isinstance(loop, Loop)
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        assert server.is_serving()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        server.close()
        await server.wait_closed()
        assert not server.is_serving()
        try:
            await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            pass
        else:
            raise AssertionError("a closed server still accepted a connection")
        # Not serving yet: uvloop's own server, untouched.
        idle = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0, start_serving=False)
        try:
            assert not idle.is_serving()
        finally:
            idle.close()  # an unclosed uvloop server would hang the loop's close

    run(main)


OUT_OF_FILES = """
import asyncio, os, resource, sys
from app.infra.event_loop import new_event_loop

async def main(loop):
    accepted = []
    class Counting(asyncio.Protocol):
        def connection_made(self, transport):
            accepted.append(transport)
    server = await loop.create_server(Counting, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    sys.stdin.readline()  # the parent has connected
    # No descriptor left for an accepted connection: the limit is what is open now (the
    # listing counts its own descriptor, closed by the time it returns).
    open_now = len(os.listdir("/proc/self/fd")) - 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now, hard))
    await asyncio.sleep(0.5)
    print("while out of files:", len(accepted), flush=True)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    for _ in range(40):
        if len(accepted) == 3:
            break
        await asyncio.sleep(0.1)
    print("after:", len(accepted), flush=True)

loop = new_event_loop()
loop.run_until_complete(main(loop))
"""


def test_out_of_file_descriptors_pauses_accepting_and_then_resumes():
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(OUT_OF_FILES)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    port = int(child.stdout.readline())
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    child.stdin.write("go\n")
    child.stdin.flush()
    out, err = child.communicate(timeout=30)
    for sock in clients:
        sock.close()
    assert child.returncode == 0, err
    assert "while out of files: 0" in out
    assert "after: 3" in out
    assert "cannot accept connections" in err and "retrying in 1 s" in err


def test_the_web_process_runs_uvicorn_on_this_loop():
    import runpy

    from uvicorn.config import Config

    from app.infra.event_loop import Worker

    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert conf["worker_class"] == "app.infra.event_loop.Worker"
    config = Config(app=None, **Worker.CONFIG_KWARGS)
    assert config.get_loop_factory() is new_event_loop


WITHOUT_UVLOOP = """
import sys
sys.modules["uvloop"] = None  # `import uvloop` now raises ImportError, as where it is missing
import asyncio, logging, uvicorn
logging.basicConfig(level=logging.WARNING)
from tests import sse_app

async def loop_name(request):
    from starlette.responses import PlainTextResponse
    return PlainTextResponse(type(asyncio.get_running_loop()).__module__)

from starlette.routing import Route
sse_app.app.router.routes.append(Route("/loop", loop_name))
uvicorn.run(sse_app.app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools",
            loop="app.infra.event_loop:new_event_loop", log_level="warning")
"""


def test_without_uvloop_the_server_runs_on_asyncio_and_streams(tmp_path):
    import httpx

    from tests.conftest import _free_port

    port = _free_port()
    log = tmp_path / "stderr"
    with open(log, "wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-c", WITHOUT_UVLOOP, str(port)],
            cwd=Path(__file__).resolve().parents[2],
            stderr=err,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                loop_module = httpx.get(f"{base}/loop").text
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        assert loop_module.startswith("asyncio"), loop_module
        with httpx.stream("GET", f"{base}/busy-then-quiet", timeout=10) as response:
            ticks = 0
            for line in response.iter_lines():
                ticks += line.startswith("event: tick")
                if ticks == 5:
                    break
        assert ticks == 5
        assert "uvloop is not available" in log.read_text()
    finally:
        server.terminate()
        server.wait(10)


HELLO = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})
"""


def test_a_request_sent_as_its_worker_recycles_is_served_not_reset(tmp_path):
    """Behind Nginx each request opens a connection; one the recycling worker had accepted
    but not yet read was closed, a 502 (a CI run of the fault scenarios caught one)."""
    from tests.conftest import _free_port

    (tmp_path / "hello.py").write_text(HELLO)
    (tmp_path / "empty.conf.py").write_text("")
    port = _free_port()
    log = tmp_path / "stderr"
    with open(log, "wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "hello:app", "-c", str(tmp_path / "empty.conf.py"),
             "-k", "app.infra.event_loop.Worker", "-w", "1", "-b", f"127.0.0.1:{port}",
             "--max-requests", "1", "--max-requests-jitter", "0", "--graceful-timeout", "20"],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[2]}"},
            stderr=err,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                early = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        time.sleep(0.3)  # accepted by the worker, no request yet
        # The worker's one request: it then recycles, with the early connection still open.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as other:
            other.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert b"served" in _read_all(other)
        time.sleep(0.4)  # the worker is shutting down now (it looks every 0.1 s)
        early.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = _read_all(early)
        assert reply.startswith(b"HTTP/1.1 200") and b"served" in reply, reply
        early.close()
    finally:
        server.terminate()
        server.wait(30)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)
