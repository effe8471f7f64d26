"""Regression tests: the URL fetcher checked one DNS answer and connected to another."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.ingest.fetch import RefusedURL, check_url, refused_because
from tests.helpers import AUTH

SECRET = "zebracorn-credentials-7731"


class _Secret(BaseHTTPRequestHandler):
    requests = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests += 1
        body = f"internal only: {SECRET}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def secret_server() -> Iterator[int]:
    _Secret.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Secret)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def rebinding_dns(monkeypatch) -> list[str]:
    """rebind.test resolves to a public address the first time, to 127.0.0.1 after."""
    real = socket.getaddrinfo
    answered: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = "1.1.1.1" if not answered else "127.0.0.1"
        answered.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 80))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answered


def test_dns_rebinding_never_reaches_the_loopback_server(settings, secret_server, rebinding_dns):
    # The check saw 1.1.1.1; httpx resolved the name again and got 127.0.0.1.
    allowed = dataclasses.replace(settings, url_ports=(secret_server,), url_timeout_seconds=2)
    with TestClient(Application(allowed, local=True), headers=AUTH) as client:
        response = client.post(
            "/api/documents", json={"url": f"http://rebind.test:{secret_server}/notes.txt"}
        )
        assert response.status_code in (400, 422), response.text
        assert _Secret.requests == 0
        assert rebinding_dns[0] == "1.1.1.1"
        assert client.get("/api/search", params={"q": SECRET}).json()["results"] == []


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 for 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 for 169.254.169.254
        ("64:ff9b:1::1", "NAT64"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 for 127.0.0.1
    ],
)
def test_ipv6_addresses_that_reach_ipv4_are_judged_by_their_ipv4(address, why):
    assert why in (refused_because(ipaddress.ip_address(address), allow_private=False) or "")


async def test_public_addresses_are_fetched_on_ports_80_and_443_only(rebinding_dns):
    with pytest.raises(RefusedURL, match="URL_PORTS"):
        await check_url("http://rebind.test:25/", allow_private=False)  # 1.1.1.1: public
    with pytest.raises(RefusedURL, match="loopback"):
        await check_url("https://rebind.test/", allow_private=False)  # now 127.0.0.1
