"""Rate limits, the same tests against Redis and the in-process twin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from app.asgi import Application
from app.auth.ratelimit import MemoryLimiter, RedisLimiter
from app.auth_settings import Limit, parse_limit
from tests.conftest import settings_with
from tests.helpers import ADMIN_EMAIL, AUTH, SOLAR_GUIDE, ingest

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({exc})")


@pytest.fixture(params=["memory", "redis"])
def backend(request) -> dict[str, str]:
    if request.param == "redis":
        _redis_or_skip()
        return {"REDIS_URL": REDIS_URL}
    return {}


@pytest.fixture
def limited(settings, backend) -> Iterator[TestClient]:
    """The app with small limits, seen from an address of its own (fresh counters)."""
    configured = settings_with(
        settings, RATE_LIMIT_LOGINS="5/day", RATE_LIMIT_ASKS="3/day", **backend
    )
    address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    with TestClient(
        Application(configured, local=True), headers=AUTH, client=(address, 40000)
    ) as client:
        yield client


def test_login_brute_force_from_one_address_is_limited(limited):
    limited.headers.pop("Authorization")
    wrong = {"email": ADMIN_EMAIL, "password": "guess"}
    for _ in range(5):
        assert limited.post("/api/auth/login", json=wrong).status_code == 401
    refused = limited.post("/api/auth/login", json=wrong)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 86400
    assert "try again in" in refused.json()["error"]["message"]
    # Not even the right password gets through until the window ends.
    right = {"email": ADMIN_EMAIL, "password": "admin password"}
    assert limited.post("/api/auth/login", json=right).status_code == 429


def test_setup_once_an_admin_exists_is_refused_unhashed_and_counts_as_a_login(limited):
    limited.headers.pop("Authorization")
    # A password too short to hash is not even looked at: the site is set up.
    attempt = {"email": "mallory@example.com", "password": "short"}
    for _ in range(5):
        refused = limited.post("/api/auth/setup", json=attempt)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "already_set_up"
    assert limited.post("/api/auth/setup", json=attempt).status_code == 429


def test_a_burst_of_asks_over_the_limit_gets_429_with_retry_after(limited):
    ingest(limited, "solar.md", SOLAR_GUIDE)
    question = {"question": "How efficient are solar panels?"}
    for _ in range(3):
        assert limited.post("/api/chat", json=question).status_code == 200
    over = limited.post("/api/chat", json=question)
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert over.json()["error"]["code"] == "rate_limited"
    body = {"model": "rag", "messages": [{"role": "user", "content": "How efficient?"}]}
    assert limited.post("/v1/chat/completions", json=body).status_code == 429
    with limited.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "ask", **question})
        event = ws.receive_json()
        assert event["type"] == "error" and event["code"] == "rate_limited"
        assert event["retry_after"] >= 1
    assert limited.get("/api/search", params={"q": "solar"}).status_code == 200  # its own limit


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_a_window_allows_its_count_then_the_next_window_starts_afresh(kind):
    now = [1_000_000.0]
    if kind == "redis":
        _redis_or_skip()
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        limiter = RedisLimiter(client, clock=lambda: now[0])
    else:
        limiter = MemoryLimiter(clock=lambda: now[0])
    key, limit = f"test:{uuid.uuid4()}", Limit(2, 60)
    try:
        assert [await limiter.hit(key, limit) for _ in range(3)] == [None, None, 20]
        now[0] += 20
        assert await limiter.hit(key, limit) is None
        assert await limiter.hit(key, Limit(0, 60)) is None  # 0 switches a limit off
    finally:
        if kind == "redis":
            await client.aclose()


def test_limits_are_read_from_settings():
    assert parse_limit("30/minute") == Limit(30, 60)
    assert parse_limit("5/hours") == Limit(5, 3600)
    with pytest.raises(ValueError):
        parse_limit("lots")
