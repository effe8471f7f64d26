"""A small real website on loopback for web-source tests: pages the test edits between
syncs, ETags with 304 answers, a redirect, robots.txt, a sitemap, and a log of requests."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Site:
    # path -> (status, content type, body); a status of 301 redirects to the body
    pages: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, status answered)
    url: str = ""

    def page(self, path: str, body: str, status: int = 200, kind: str = "text/html") -> None:
        self.pages[path] = (status, kind, body.encode())

    def answered(self, path: str) -> list[int]:
        return [status for seen, status in self.requests if seen == path]


def html(title: str, text: str, *links: str) -> str:
    anchors = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>{text}</p><ul>{anchors}</ul></body></html>"
    )


@contextlib.contextmanager
def serve(site: Site) -> Iterator[Site]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            path = self.path.split("?", 1)[0]
            status, kind, body = site.pages.get(path, (404, "text/plain", b"not found"))
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if status == 301:
                self.send_response(301)
                self.send_header("Location", body.decode())
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif status == 200 and self.headers.get("If-None-Match") == etag:
                status = 304
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
            else:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if status == 200:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)
            site.requests.append((path, status))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
