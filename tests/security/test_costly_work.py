"""Costly work is bounded before it starts (review findings, medium)."""

from __future__ import annotations

import threading
import time

import httpx
from starlette.testclient import TestClient

from app.asgi import Application
from tests.conftest import run_asgi, settings_with
from tests.helpers import AUTH
from tests.routes.test_resume import web_process


def _gate(app: Application):
    return app.guarded.gate(app.settings.auth)


# Sign-up hashed the password with Argon2 (~64 MiB) before checking the invitation.
def test_refused_sign_ups_cost_no_password_hash(settings):
    app = Application(settings, local=True)
    with TestClient(app) as client:
        attempts = [
            {"email": "m@example.org", "password": "a long enough one", "token": "forged"},
            {"email": "m@example.org", "password": "a long enough one"},  # SIGNUP=invite
        ]
        for body in attempts:
            assert client.post("/api/auth/signup", json=body).status_code in (403, 404)
        assert _gate(app).done == 0
        wrong = {"email": "nobody@example.org", "password": "whatever it is"}
        assert client.post("/api/auth/login", json=wrong).status_code == 401
        assert _gate(app).done == 1  # a sign-in does verify (an unknown email included)


# 10 refused sign-ups and 10 sign-ins from one address took the server from 369 MB to 1.5 GB:
# every Argon2 ran at once.
def test_concurrent_sign_ins_hash_at_most_the_bound_and_shed_the_rest(settings):
    bounded = settings_with(settings, PASSWORD_HASH_CONCURRENCY="2", PASSWORD_HASH_WAIT_SECONDS="0")
    app = Application(bounded, local=True)
    statuses: list[int] = []
    with run_asgi(app) as url:

        def sign_in() -> None:
            wrong = {"email": "admin@example.org", "password": "not the right one"}
            with httpx.Client(base_url=url, timeout=60) as http:
                statuses.append(http.post("/api/auth/login", json=wrong).status_code)

        threads = [threading.Thread(target=sign_in) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        gate = _gate(app)
    assert gate.peak <= 2
    assert set(statuses) <= {401, 429} and 401 in statuses
    assert gate.done == statuses.count(401)  # a shed request hashed nothing


# /api/render rendered Markdown on the event loop: "[" * 99000 took 1.3-1.6 s each, and four
# from one reader froze /healthz.
def test_hostile_markdown_renders_leave_the_server_answering(settings, tmp_path):
    env = {"DATABASE_URL": settings.database_url, "DATA_DIR": str(tmp_path)}
    finished: list[str] = []
    # The web process of the Procfile in its own process: the renders' CPU is not this one's.
    with web_process(env) as (url, _):

        def render(n: int) -> None:
            with httpx.Client(base_url=url, timeout=120, headers=AUTH) as http:
                response = http.post("/api/render", json={"text": "[" * 99_000})
                finished.append(f"render {response.status_code}")

        threads = [threading.Thread(target=render, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # the renders are under way (each takes seconds of CPU)
        with httpx.Client(base_url=url, timeout=120) as http:
            assert http.get("/healthz").status_code == 200
        finished.append("healthz")
        for thread in threads:
            thread.join()
    # Ordering, not speed: the health check was answered while the renders still ran.
    assert finished == ["healthz", "render 200", "render 200"], finished
