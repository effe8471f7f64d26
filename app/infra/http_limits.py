"""uvicorn's httptools protocol with bounds on a request's head: its size and header count.

uvicorn with httptools reads a header of any size (a 50 MB one was read whole) when gunicorn or
uvicorn faces clients without Nginx in front. Here the bytes of a request line and headers are
counted as they arrive, before the parser buffers them: past MAX_HEAD_BYTES, or past
MAX_HEADERS headers, the answer is 431 and the connection closes. gunicorn.conf.py's
limit_request_field_size and limit_request_fields set them for the web process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line and headers together
MAX_HEADERS = 100
MAX_FIELD_BYTES = 8190  # one header, name and value (gunicorn's default)
LINGER_SECONDS = 2.0
HTTP = "app.infra.http_limits:LimitedHttpToolsProtocol"  # uvicorn's `http` setting


class HeadTooLarge(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    max_headers = MAX_HEADERS
    max_field_bytes = MAX_FIELD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = 0  # None while a body is read
        self._header_count = 0
        self._refused = False
        self._problem: str | None = None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the client closes (a lingering close)
        if self._head_bytes is not None:
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_head_bytes:
                return self._refuse("the request's headers are too large")
            if end >= 0:
                self._head_bytes = None
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        # The parser reports on_header's HeadTooLarge as an invalid request: say what it was.
        if self._problem is not None:
            return self._refuse(self._problem)
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        self._header_count = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._problem = "the request has too many headers"
        elif len(name) + len(value) > self.max_field_bytes:
            self._problem = "a header of the request is too large"
        if self._problem is not None:
            raise HeadTooLarge(self._problem)
        super().on_header(name, value)

    def on_message_complete(self) -> None:
        self._head_bytes = 0  # the next request on this connection starts with its head
        super().on_message_complete()

    def _refuse(self, message: str) -> None:
        body = f"{message} (at most {self.max_head_bytes} bytes in {self.max_headers} headers)"
        self.logger.warning("refused a request: %s", message)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}".encode()
        )
        # Closing with unread bytes would send a reset, which can destroy the answer before
        # the client reads it: stop writing, drop what still comes, close a little later.
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)


def limited(max_headers: int, max_field_bytes: int) -> type[LimitedHttpToolsProtocol]:
    """The protocol class with gunicorn's bounds (limit_request_fields and _field_size)."""
    bounds = {"max_headers": max_headers, "max_field_bytes": max_field_bytes}
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), bounds)
