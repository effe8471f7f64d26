"""httpx over the httptools transport (app/infra/http1.py), against real servers on loopback,
plain TCP and TLS, some of which misbehave on purpose."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from app.infra.http1 import Http1Transport
from app.llm.base import LLMError
from app.llm.openai import OpenAILLM
from tests.conftest import settings_with
from tests.helpers import self_signed_cert
from tests.tcp import port_of
from tests.tcp import tcp_server as serve

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
PIECE = 16384
BODY = bytes(range(256)) * 8192  # 2 MiB in 128 chunks, well past the read-ahead limit


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request's head and its Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return head + await reader.readexactly(int(line.split(b":")[1]))
    return head


async def send_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with BODY, chunked in 16 KiB pieces."""
    try:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for start in range(0, len(BODY), PIECE):
                piece = BODY[start : start + PIECE]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def answer_once(response: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response)
        await writer.drain()
        writer.close()

    return handler


@asynccontextmanager
async def tcp_server(handler: Handler, **options) -> AsyncIterator[str]:
    async with serve(handler, **options) as server:
        yield f"127.0.0.1:{port_of(server)}"


def client(timeout: float | httpx.Timeout = 5, **options) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, transport=Http1Transport(**options))


async def test_the_openai_provider_uses_the_transport_unless_a_proxy_is_set(settings, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    upstream = settings_with(settings, LLM_BASE_URL="http://127.0.0.1:9/v1")
    llm = OpenAILLM(upstream)
    assert isinstance(llm.client._transport, Http1Transport)  # type: ignore[attr-defined]
    await llm.aclose()
    # A proxy in the environment: httpx's own transport, which speaks to it.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    llm = OpenAILLM(upstream)
    assert isinstance(llm.client._transport, httpx.AsyncHTTPTransport)  # type: ignore[attr-defined]
    assert llm.client._mounts  # type: ignore[attr-defined]
    await llm.aclose()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    llm = OpenAILLM(upstream)
    assert isinstance(llm.client._transport, Http1Transport)  # type: ignore[attr-defined]
    await llm.aclose()


async def test_a_reader_that_falls_behind_gets_every_byte_in_order_in_fewer_reads():
    async with tcp_server(send_body) as address, client() as http:
        async with http.stream("GET", f"http://{address}/") as response:
            pieces = []
            async for piece in response.aiter_raw():
                if not pieces:
                    await asyncio.sleep(0.3)  # the server runs past the read-ahead limit
                pieces.append(piece)
    assert b"".join(pieces) == BODY
    # What piled up while the reader slept came as one read, not a read per HTTP chunk.
    assert len(pieces) < len(BODY) // PIECE
    assert max(map(len, pieces)) > 4 * PIECE


async def test_the_request_reaches_the_server_whole_with_a_length_or_chunked():
    requests = []

    async def echo(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        if b"transfer-encoding: chunked" in head.lower():
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                body += (await reader.readexactly(size + 2))[:-2]
            await reader.readexactly(2)
        else:
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
        requests.append(head)
        writer.write(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async def parts():
        yield b'{"a": '
        yield b"1}"

    async with tcp_server(echo) as address, client() as http:
        sent = {"question": "é" * 3000}
        response = await http.post(f"http://{address}/v1/x?y=1", json=sent)
        assert response.json() == sent
        assert requests[0].startswith(b"POST /v1/x?y=1 HTTP/1.1\r\n")
        assert f"host: {address}".encode() in requests[0].lower()
        response = await http.post(f"http://{address}/", content=parts())
        assert response.json() == {"a": 1}


async def test_a_kept_alive_connection_is_reused_and_one_the_server_closed_is_replaced():
    connections = []

    async def twice_then_close(reader, writer):
        connections.append(writer)
        try:
            for _ in range(2):
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the client went first
        writer.close()  # after two answers: the client's idle connection goes stale

    async with tcp_server(twice_then_close) as address, client() as http:
        for _ in range(2):
            assert (await http.get(f"http://{address}/")).text == "ok"
        assert len(connections) == 1
        await asyncio.sleep(0.1)
        assert (await http.get(f"http://{address}/")).text == "ok"
        assert len(connections) == 2
        # Sent at once, as the server closes: the request may meet the closing connection,
        # which the server never read it from, and then goes again on a new one.
        assert (await http.get(f"http://{address}/")).text == "ok"
        assert len(connections) in (2, 3)
        assert (await http.get(f"http://{address}/")).text == "ok"


async def test_a_connection_with_unasked_bytes_or_an_unread_body_is_not_reused():
    connections = []

    async def chatty(reader, writer):
        connections.append(writer)
        try:
            while True:
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokJUNK")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async with tcp_server(chatty) as address, client() as http:
        for _ in range(2):
            assert (await http.get(f"http://{address}/")).text == "ok"
        assert len(connections) == 2
    connections.clear()
    async with tcp_server(send_body) as address, client() as http:
        for _ in range(2):
            async with http.stream("GET", f"http://{address}/") as response:
                await response.aiter_raw().__anext__()  # then closed before its end
        assert (await http.get(f"http://{address}/")).content == BODY


async def test_a_body_without_a_length_ends_with_the_connection_and_a_204_has_none():
    async with tcp_server(answer_once(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")) as address:
        async with client() as http:
            assert (await http.get(f"http://{address}/")).text == "until the end"
    async with tcp_server(answer_once(b"HTTP/1.1 204 No Content\r\n\r\n")) as address:
        async with client() as http:
            response = await http.get(f"http://{address}/")
            assert (response.status_code, response.content) == (204, b"")
            assert response.reason_phrase == "No Content"
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"  # the length a GET would have
    async with tcp_server(answer_once(head)) as address, client() as http:
        response = await http.head(f"http://{address}/")
        assert (response.status_code, response.content) == (200, b"")


async def test_stalls_cuts_silence_and_garbage_are_httpx_errors():
    async def stall(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n")
        await asyncio.sleep(5)

    cases = [
        (stall, httpx.ReadTimeout, "within 0.3 s"),
        (answer_once(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n"),
         httpx.RemoteProtocolError, "before the response was complete"),
        (answer_once(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhi"),
         httpx.RemoteProtocolError, "before the response was complete"),
        (answer_once(b""), httpx.RemoteProtocolError, "without sending a response"),
        (answer_once(b"SMTP ready\r\n\r\n"), httpx.RemoteProtocolError, "malformed HTTP"),
    ]  # fmt: skip
    for handler, error, message in cases:
        async with tcp_server(handler) as address, client(timeout=0.3) as http:
            with pytest.raises(error, match=message) as raised:
                await http.get(f"http://{address}/")
            assert raised.value.request.url.host == "127.0.0.1"


async def test_the_read_timeout_counts_from_the_last_data_not_from_the_request():
    async def trickle_then_stall(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(8):  # 1.6 s in all, each piece well within the 0.5 s timeout
            writer.write(b"1\r\nx\r\n")
            await asyncio.sleep(0.2)
        await asyncio.sleep(5)

    async with tcp_server(trickle_then_stall) as address, client(timeout=0.5) as http:
        async with http.stream("GET", f"http://{address}/") as response:
            received = b""
            with pytest.raises(httpx.ReadTimeout, match="within 0.5 s"):
                async for piece in response.aiter_raw():
                    received += piece
    assert received == b"x" * 8


async def test_a_refused_connection_is_a_connect_error():
    async with tcp_server(send_body) as address:
        pass  # closed: nothing listens there any more
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://{address}/")
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("ftp://127.0.0.1/")


async def test_https_with_the_certificate_checked(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trusted = ssl.create_default_context(cafile=str(cert))
    async with tcp_server(send_body, ssl=server_tls) as address:
        port = address.rsplit(":", 1)[1]
        async with client(verify=trusted) as http:
            assert (await http.get(f"https://localhost:{port}/")).content == BODY
            assert (await http.get(f"https://localhost:{port}/")).content == BODY  # kept alive
        async with client() as http:  # the system's CAs do not trust it
            with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
                await http.get(f"https://localhost:{port}/")


async def test_json_error_bodies_read_whole(settings):
    """An upstream error body reaches the provider's message (read through this transport)."""
    error = json.dumps({"error": {"message": "model 'x' not found"}}).encode()
    response = b"HTTP/1.1 404 Not Found\r\ncontent-length: %d\r\n\r\n%s" % (len(error), error)
    async with tcp_server(answer_once(response)) as address:
        llm = OpenAILLM(settings_with(settings, LLM_BASE_URL=f"http://{address}/v1"))
        try:
            with pytest.raises(LLMError, match="model 'x' not found"):
                async for _ in llm.stream("q", []):
                    pass
        finally:
            await llm.aclose()
