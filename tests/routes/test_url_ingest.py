"""POST /api/documents {"url": ...} against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.ingest.fetch import refused_because
from tests import files
from tests.helpers import AUTH, SOLAR_GUIDE, ingest, row_counts, wait_ready

PAGE = files.html_page("<h1>Wind</h1><p>Turbines turn wind into electricity.</p>")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        routes = {
            "/page.html": lambda: self.send(200, "text/html; charset=utf-8", PAGE),
            "/guide.md": lambda: self.send(200, "text/markdown", SOLAR_GUIDE.encode()),
            "/report.pdf": lambda: self.send(
                200, "application/pdf", files.pdf(["Batteries store power."])
            ),
            "/hop1": lambda: self.redirect("/hop2"),
            "/hop2": lambda: self.redirect("page.html"),
            "/loop": lambda: self.redirect("/loop"),
            "/metadata": lambda: self.redirect("http://169.254.169.254/latest/meta-data/"),
            "/video.mp4": lambda: self.send(200, "video/mp4", b"\x00\x00\x00\x18ftypmp42"),
            "/huge.txt": lambda: self.send(200, "text/plain", b"a" * (1024 * 1024 + 10)),
            "/liar.txt": self.lying_length,
            "/slow": self.slow,
        }
        route = routes.get(self.path)
        if route is None:
            self.send(404, "text/plain", b"not found")
        else:
            route()

    def send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def lying_length(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()  # no length: the body streams until the connection closes
        try:
            for _ in range(40):
                self.wfile.write(b"b" * 64 * 1024)
        except OSError:
            pass  # the app hung up once the cap was passed
        self.close_connection = True

    def slow(self) -> None:
        time.sleep(3)
        self.send(200, "text/plain", b"too late")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def url_client(settings) -> Iterator[TestClient]:
    """The app allowed to fetch loopback URLs, with a short fetch timeout."""
    allowed = dataclasses.replace(settings, allow_private_urls=True, url_timeout_seconds=1)
    with TestClient(Application(allowed, local=True), headers=AUTH) as client:
        yield client


def post_url(client: TestClient, url: str):
    return client.post("/api/documents", json={"url": url})


def test_html_markdown_and_pdf_urls_are_ingested(url_client, site):
    html = post_url(url_client, f"{site}/page.html")
    assert html.status_code == 202, html.text
    document = wait_ready(url_client, html.json()["document"]["id"])
    assert document["status"] == "ready" and document["title"] == "Solar page"
    assert document["source"] == f"{site}/page.html"
    for path in ("/guide.md", "/report.pdf"):
        response = post_url(url_client, site + path)
        assert response.status_code == 202, response.text
        assert wait_ready(url_client, response.json()["document"]["id"])["status"] == "ready"
    # The same content again answers with the stored document.
    again = post_url(url_client, f"{site}/page.html")
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_redirects_are_followed_hop_by_hop(url_client, site):
    response = post_url(url_client, f"{site}/hop1")
    assert response.status_code == 202, response.text
    assert response.json()["document"]["source"] == f"{site}/page.html"


@pytest.mark.parametrize(
    ("path", "status", "code", "words"),
    [
        ("/metadata", 400, "url_refused", "link-local"),
        ("/loop", 422, "url_redirects", "redirects more than"),
        ("/video.mp4", 415, "unsupported_media_type", "video/mp4"),
        ("/huge.txt", 413, "payload_too_large", "MAX_UPLOAD_MB"),
        ("/liar.txt", 413, "payload_too_large", "MAX_UPLOAD_MB"),
        ("/slow", 422, "url_timeout", "URL_TIMEOUT_SECONDS"),
        ("/missing", 422, "url_status", "404"),
    ],
)
def test_bad_urls_answer_4xx_and_store_nothing(
    url_client, settings, site, path, status, code, words
):
    ingest(url_client, "solar.md", SOLAR_GUIDE)
    before = row_counts(settings.database_url)
    response = post_url(url_client, site + path)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert row_counts(settings.database_url) == before


def test_loopback_is_refused_unless_allowed(client, settings, site):
    before = row_counts(settings.database_url)
    for url in (f"{site}/page.html", "http://localhost:9/x", "http://[::1]:9/x"):
        response = post_url(client, url)
        assert response.status_code == 400, response.text
        assert "ALLOW_PRIVATE_URLS" in response.json()["error"]["message"]
    for body in ({"url": "file:///etc/passwd"}, {"url": 42}, {"link": "x"}):
        assert client.post("/api/documents", json=body).status_code == 400
    assert row_counts(settings.database_url) == before


@pytest.mark.parametrize(
    ("address", "allowed_when_private_allowed"),
    [
        ("10.1.2.3", True),
        ("192.168.0.1", True),
        ("fd00::1", True),
        ("127.0.0.1", True),
        ("169.254.169.254", False),
        ("fe80::1", False),
        ("::ffff:169.254.169.254", False),
        ("0.0.0.0", False),
    ],
)
def test_address_rules(address, allowed_when_private_allowed):
    ip = ipaddress.ip_address(address)
    assert refused_because(ip, allow_private=False)
    assert (refused_because(ip, allow_private=True) is None) is allowed_when_private_allowed
    assert refused_because(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None
