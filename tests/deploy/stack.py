"""The deployment on loopback, as processes: gunicorn (the Procfile's web command), the ingestion
worker, and Debian's Nginx with deploy/nginx.conf (addresses, ports and paths rewritten)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers import AUTH, self_signed_cert

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, **client: object) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2, **client).status_code == 200:  # type: ignore[arg-type]
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def nginx_config(upstream: int, http: int, https: int, directory: Path, body_mb: int) -> str:
    """deploy/nginx.conf for loopback ports and a test folder; the rest is left as it is."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    rewrites = [
        (r"server web:8000", f"server 127.0.0.1:{upstream}"),
        (r"listen 80;", f"listen 127.0.0.1:{http};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        (r"https://\$host\$request_uri", f"https://$host:{https}$request_uri"),
        (r"/etc/nginx/certs/", f"{directory}/"),
        (r"/dev/stdout", f"{directory}/access.log"),
        (r"/dev/stderr", f"{directory}/error.log"),
        (r"client_max_body_size 21m;", f"client_max_body_size {body_mb}m;"),
    ]
    for pattern, replacement in rewrites:
        text, count = re.subn(pattern, replacement, text)
        assert count, f"deploy/nginx.conf no longer has {pattern!r}"
    return text


@dataclass
class Stack:
    """What the tests talk to: Nginx (TLS and plain HTTP) and gunicorn directly."""

    gunicorn: str
    https: str
    http: str
    cert: Path
    log: Path  # gunicorn's (and the app's) stderr
    env: dict[str, str] = field(default_factory=dict)

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client(self, **options: object) -> httpx.Client:
        options.setdefault("headers", AUTH)
        return httpx.Client(base_url=self.https, verify=self.tls(), **options)  # type: ignore[arg-type]


@contextlib.contextmanager
def run_stack(env: dict[str, str], directory: Path, *, nginx: bool = True) -> Iterator[Stack]:
    gport, http, https = free_port(), free_port(), free_port()
    env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(gport)}
    log = directory / "gunicorn.log"
    web = [sys.executable, "-m", "gunicorn", "app.asgi:application", "-c", "gunicorn.conf.py"]
    worker = [sys.executable, "-m", "app", "worker"]
    with (
        process(web, env, log) as gunicorn,
        process(worker, env, directory / "worker.log"),
        contextlib.ExitStack() as stack,
    ):
        wait_until_up(f"http://127.0.0.1:{gport}/readyz", gunicorn, log)
        cert, _ = self_signed_cert(directory)
        if nginx:
            conf = directory / "nginx.conf"
            body_mb = int(env.get("MAX_UPLOAD_MB", "20")) + 1
            conf.write_text(nginx_config(gport, http, https, directory, body_mb))
            args = [
                shutil.which("nginx") or "/usr/sbin/nginx",
                "-p", str(directory), "-c", str(conf),
                "-g", f"daemon off; user root; pid {directory}/nginx.pid;",
            ]  # fmt: skip
            server = stack.enter_context(process(args, env, directory / "nginx.out"))
            context = ssl.create_default_context(cafile=str(cert))
            wait_until_up(f"https://127.0.0.1:{https}/healthz", server, directory / "error.log",
                          verify=context)  # fmt: skip
        yield Stack(
            gunicorn=f"http://127.0.0.1:{gport}",
            https=f"https://127.0.0.1:{https}",
            http=f"http://127.0.0.1:{http}",
            cert=cert,
            log=log,
            env=env,
        )
