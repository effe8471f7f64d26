"""app/infra/sse.py's EventStream over real uvicorn on loopback: pings when quiet, the
client leaving, a failing stream, and server shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import sse_app
from tests.conftest import _free_port, run_asgi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    with run_asgi(sse_app.app, log_level="critical") as url:
        yield url


def test_pings_only_when_the_stream_is_quiet(server):
    body = httpx.get(server + "/busy-then-quiet", timeout=10).text
    busy, quiet = body.split("event: quiet")
    assert busy.count("event: tick") == 150
    assert ": ping" not in busy  # never quiet for the 0.5 s interval
    assert quiet.count(": ping") in (1, 2)  # 1.2 s of silence
    assert quiet.rstrip().endswith("data:")  # and the stream went on to its end


def test_a_client_that_leaves_ends_the_stream_and_its_generator(server):
    sse_app.closed.clear()
    with httpx.stream("GET", server + "/endless", timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith("event: tick"):
                break
    assert sse_app.closed.wait(5)


def test_a_stream_that_fails_cuts_the_response_after_what_it_sent(server):
    with httpx.stream("GET", server + "/failing", timeout=10) as response:
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            for line in response.iter_lines():
                received.append(line)
    assert "event: tick" in received


def test_server_shutdown_ends_open_streams():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sse_app", str(port)], cwd=ROOT, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with httpx.stream("GET", f"http://127.0.0.1:{port}/endless", timeout=10) as r:
                    lines = r.iter_lines()
                    assert next(line for line in lines if line.startswith("event: tick"))
                    process.send_signal(signal.SIGTERM)
                    # The server cuts the stream, as sse-starlette does: EventSource clients
                    # reconnect (and resume) on another worker.
                    cut_by = time.monotonic() + 20
                    with pytest.raises(httpx.RemoteProtocolError):
                        for _ in lines:
                            assert time.monotonic() < cut_by, "the stream outlived shutdown"
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        # Without the shutdown watcher the endless stream holds the server up forever.
        assert process.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    finally:
        process.kill()
