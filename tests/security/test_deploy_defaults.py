"""Deploy defaults (review findings, low): header bounds, ALLOWED_HOSTS, the first admin, and
/healthz whatever the database does."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.config import load_settings
from app.db.embedded import start_embedded
from app.errors import ConfigError
from app.infra.http_limits import HTTP
from tests.conftest import TEST_ENV, _admin, run_asgi
from tests.hostile.test_database_down import _prepare
from tests.sse_app import app as small_app


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(request)
        except OSError:
            pass  # the server may close before it has read everything: that is the point
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# A 50 MB header was read whole by uvicorn (httptools) without Nginx in front.
def test_oversized_and_too_many_headers_are_refused_with_431():
    with run_asgi(small_app, http=HTTP) as url:
        huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * 1024 * 1024) + b"\r\n\r\n"
        assert _raw(url, huge).startswith(b"HTTP/1.1 431 ")
        many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
            f"X-{n}: y\r\n".encode() for n in range(150)
        )
        assert _raw(url, many + b"\r\n").startswith(b"HTTP/1.1 431 ")
        fine = _raw(url, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert fine.startswith(b"HTTP/1.1 404 ")


def test_gunicorn_conf_bounds_headers():
    import runpy

    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert conf["limit_request_fields"] == 100 and conf["limit_request_field_size"] == 8190


# ALLOWED_HOSTS defaulted to * under gunicorn (a wildcard bind).
def test_a_public_web_process_refuses_to_start_without_allowed_hosts(settings):
    env = {"DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir)}
    bare = load_settings({**env, "HOST": "0.0.0.0"})
    with pytest.raises(ConfigError, match="ALLOWED_HOSTS=rag.example.org"):
        with TestClient(Application(bare)):
            pass
    with TestClient(Application(bare, local=True)) as local:  # python -m app serve: as before
        assert local.get("/healthz", headers={"Host": "localhost"}).status_code == 200


# On a fresh production deploy the first visitor became the admin.
def test_first_visitor_needs_the_setup_token_from_the_log(settings, caplog):
    asyncio.run(_admin(settings.database_url, "TRUNCATE users CASCADE; TRUNCATE setup_token"))
    with caplog.at_level(logging.WARNING, logger="app.auth.setup"):
        with TestClient(Application(settings)) as client:
            found = re.search(r"setup token: (\S+)", caplog.text)
            assert found, caplog.text
            admin = {"email": "first@example.org", "password": "the very first admin"}
            refused = client.post("/api/auth/setup", json=admin)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "bad_setup_token"
            wrong = client.post("/api/auth/setup", json={**admin, "setup_token": "guess"})
            assert wrong.status_code == 403
            assert "setup token" in client.get("/setup").text.lower()
            made = client.post("/api/auth/setup", json={**admin, "setup_token": found[1]})
            assert made.status_code == 200, made.text
    with TestClient(Application(settings, local=True)) as local:  # no token: serve is local
        assert local.get("/login").status_code == 200


# With Postgres frozen (SIGSTOP), API calls got 503 after 10 s and /healthz hung.
def test_healthz_answers_with_the_database_frozen(tmp_path: Path):
    server = start_embedded(tmp_path / "pg")  # our own server: this test freezes it
    stopped: list[int] = []
    try:
        dsn = asyncio.run(_prepare(server.get_uri()))
        env = {"DATABASE_URL": dsn, "DATA_DIR": str(tmp_path / "data"), **TEST_ENV}
        settings = load_settings({**env, "DB_ACQUIRE_TIMEOUT": "2"})
        with run_asgi(Application(settings)) as url:
            stopped = _freeze(Path(server.pgdata))
            try:
                # Credentials a probe should not send, but might: they are not looked up.
                probe = {"Authorization": "Bearer rag_whatever", "Cookie": "session=stale"}
                health = httpx.get(url + "/healthz", headers=probe, timeout=10)
            finally:  # before the app's shutdown, which closes its connections
                _thaw(stopped)
            assert health.json() == {"status": "ok"}
    finally:
        _thaw(stopped)
        server.cleanup()


def _thaw(stopped: list[int]) -> None:
    while stopped:
        try:
            os.kill(stopped.pop(), signal.SIGCONT)
        except ProcessLookupError:
            pass


def _freeze(pgdata: Path) -> list[int]:
    """SIGSTOP the postmaster and every one of its processes; their ids."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.isdigit() and int(stat.rsplit(") ", 1)[1].split()[1]) == postmaster:
            children.append(int(entry))
    frozen = [postmaster, *children]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    return frozen
