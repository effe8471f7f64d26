"""httpx over the asyncio network backend (app/rag/llm/network.py), against real servers on
loopback: plain TCP, TLS and a Unix socket."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from app.rag.llm import network
from app.rag.llm.openai import OpenAILLM
from tests.conftest import settings_with

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BODY = bytes(range(256)) * 8192  # 2 MiB, well past the read-ahead limit


async def read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def send_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with BODY, chunked in 16 KiB pieces."""
    try:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for start in range(0, len(BODY), 16384):
                piece = BODY[start : start + 16384]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


@asynccontextmanager
async def tcp_server(handler: Handler, **options) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, **options)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()


def client(**options) -> httpx.AsyncClient:
    installed = httpx.AsyncClient(**{"timeout": 5, **options})
    network.install(installed)
    return installed


async def test_the_openai_provider_reads_its_upstream_through_the_asyncio_backend(settings):
    llm = OpenAILLM(settings_with(settings, LLM_BASE_URL="http://127.0.0.1:9/v1"))
    try:
        pool = llm.client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, network.AsyncioBackend)
    finally:
        await llm.aclose()


async def test_a_reader_that_falls_behind_gets_every_byte_in_order():
    async with tcp_server(send_body) as address, client() as http:
        async with http.stream("GET", f"http://{address}/") as response:
            assert isinstance(response.extensions["network_stream"], network.AsyncioStream)
            received = bytearray()
            async for piece in response.aiter_raw():
                if not received:
                    await asyncio.sleep(0.3)  # the server runs past the read-ahead limit
                received += piece
    assert bytes(received) == BODY


async def test_a_pooled_connection_is_reused_and_one_the_server_closed_is_replaced():
    connections = []

    async def once_then_close(reader, writer):
        connections.append(writer)
        try:
            for _ in range(2):
                await read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the client went first
        writer.close()  # after two answers: the client's pooled connection goes stale

    async with tcp_server(once_then_close) as address, client() as http:
        for _ in range(2):
            assert (await http.get(f"http://{address}/")).text == "ok"
        assert len(connections) == 1
        await asyncio.sleep(0.1)
        assert (await http.get(f"http://{address}/")).text == "ok"
        assert len(connections) == 2


async def test_a_stalled_server_times_out_and_a_cut_one_is_a_transport_error():
    async def stall(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n")
        await asyncio.sleep(5)

    async def cut(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n")
        await writer.drain()
        writer.close()

    async with tcp_server(stall) as address, client(timeout=httpx.Timeout(0.3)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://{address}/")
    async with tcp_server(cut) as address, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://{address}/")


async def test_a_refused_connection_is_a_connect_error():
    async with tcp_server(send_body) as address:
        pass  # closed: nothing listens there any more
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://{address}/")


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_https_goes_through_the_backend_with_its_certificate_checked(tmp_path):
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trusted = ssl.create_default_context(cafile=str(cert))
    async with tcp_server(send_body, ssl=server_tls) as address:
        port = address.rsplit(":", 1)[1]
        async with client(verify=trusted) as http:
            response = await http.get(f"https://localhost:{port}/")
            assert response.content == BODY
            stream = response.extensions["network_stream"]
            assert stream.get_extra_info("ssl_object") is not None
        async with client() as http:  # the system's CAs do not trust it
            with pytest.raises(httpx.ConnectError):
                await http.get(f"https://localhost:{port}/")


async def test_a_unix_socket_transport_uses_the_backend_too(tmp_path):
    path = str(tmp_path / "upstream.sock")
    server = await asyncio.start_unix_server(send_body, path)
    try:
        async with client(transport=httpx.AsyncHTTPTransport(uds=path)) as http:
            response = await http.get("http://upstream/")
            assert response.content == BODY
            assert isinstance(response.extensions["network_stream"], network.AsyncioStream)
    finally:
        server.close()
