"""A small OpenAI-compatible chat-completions server on loopback that misbehaves on purpose.

The model name in the request picks the behaviour (see `FakeLLM._respond`). Raw asyncio
streams rather than a framework, so it can cut, stall and garble a response at the byte level
and see the moment its client closes the connection.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
import zlib
from typing import Any

ANSWER = ["Monocrystalline", " panels", " convert", " about 22 percent", " of sunlight", " [1]."]
REWRITTEN = "How often should monocrystalline solar panels be cleaned?"
# Models whose follow-up rewrite fails (the answer itself is as "ok"), and what they reply.
REWRITE_FAILURES: dict[str, list[str]] = {
    "rewrite-500": [],  # HTTP 500 on every attempt
    "rewrite-stall": [],  # never answers
    "rewrite-empty": [],  # an empty reply
    "rewrite-refuses": ["I'm sorry, but I can't", " help with that."],
    "rewrite-rambles": ["The conversation is about solar panels. "] * 40,
}


class FakeLLM:
    def __init__(
        self,
        *,
        answer: list[str] | None = None,
        token_seconds: float = 0.02,
        embed_seconds: float = 0.0,
    ) -> None:
        self.answer = answer or ANSWER
        self.token_seconds = token_seconds
        # How long each /v1/embeddings answer takes: holds an ingestion batch mid-flight.
        self.embed_seconds = embed_seconds
        # When set, the last piece of an answer waits until the test sets it: the test can
        # look at a stream mid-answer without racing it.
        self.hold_last: threading.Event | None = None
        self.requests: list[dict[str, Any]] = []  # request bodies, in arrival order
        # What GET /v1/models lists (a collection's assistant chooses among them); None:
        # an answer without "data", as a server that is not OpenAI-compatible gives.
        self.models: list[str] | None = ["ok", "paced", "slow"]
        self.closed_by_client = 0  # streams the client closed before they ended
        self.producing = 0  # "paced" answers being written now
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def wait_closed(self, count: int = 1, timeout: float = 20) -> bool:
        """Wait until the client has closed `count` streams early; False if it never did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.closed_by_client >= count:
                return True
            time.sleep(0.02)
        return False

    def count(self, model: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.get("model") == model)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0.05))
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            embeddings = b"/embeddings " in head.split(b"\r\n", 1)[0]
            if head.startswith(b"GET ") and b"/models " in head.split(b"\r\n", 1)[0]:
                if self.models is None:
                    return await _json(writer, {"object": "list"})
                listed = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
                return await _json(writer, {"object": "list", "data": listed})
            length = 0
            for line in head.decode().split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = json.loads(await reader.readexactly(length))
            if embeddings:
                if self.embed_seconds:
                    await asyncio.sleep(self.embed_seconds)
                return await _embeddings(writer, body["input"])
            with self._lock:
                self.requests.append(body)
            await self._respond(body, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _respond(
        self, body: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        model = body.get("model", "ok")
        rewrite = body["messages"][0]["content"].startswith("Rewrite the last question")
        if rewrite and model in REWRITE_FAILURES:  # only the rewrite misbehaves
            return await self._rewrite_failure(model, reader, writer)
        if model == "http500" or (model == "flaky" and self.count("flaky") == 1):
            return await _status(writer, 503 if model == "flaky" else 500, "model overloaded")
        if model == "http401":
            return await _status(writer, 401, "invalid api key")
        if model == "http404":
            return await _status(writer, 404, "no such model")
        if model == "stall-headers":
            return await self._until_closed(reader)  # never answers
        if model == "slow":  # as model servers stream: an HTTP chunk per token
            return await self._slow(reader, writer)
        if model == "paced":  # the whole answer, a token every `token_seconds`
            return await self._paced(writer)
        if model in ("gzip", "raw-unicode"):
            return await _whole(writer, self.answer, compress=model == "gzip")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        )
        answer = [REWRITTEN] if rewrite else self.answer
        if model in ("stall", "badjson", "cut"):
            await _chunk(writer, answer[0])
            if model == "badjson":
                writer.write(b'data: {"choices": [{"delta": {"content": "x"\n\n')
            elif model == "stall":
                await self._until_closed(reader)
            return  # cut: the body ends without [DONE]
        end = b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
        if model == "burst":  # tokens that piled up while the reader was busy: one write
            writer.write(b"".join(_event(piece) for piece in answer) + end)
            return await writer.drain()
        for i, piece in enumerate(answer):  # ok, flaky after its first request
            if self.hold_last is not None and i == len(answer) - 1:
                await asyncio.get_running_loop().run_in_executor(None, self.hold_last.wait, 60)
            await _chunk(writer, piece)
        writer.write(end)
        await writer.drain()

    async def _rewrite_failure(
        self, model: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if model == "rewrite-500":
            return await _status(writer, 500, "model overloaded")
        if model == "rewrite-stall":
            return await self._until_closed(reader)
        await _whole(writer, REWRITE_FAILURES[model], compress=False)

    async def _slow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Tokens every `token_seconds`, each in its own HTTP chunk, until the client goes."""
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        event = _event(" word")
        closed = asyncio.ensure_future(reader.read(1))
        try:
            while not closed.done():
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.wait([closed], timeout=self.token_seconds)
        except ConnectionError:
            closed.cancel()
        with self._lock:
            self.closed_by_client += 1

    async def _paced(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        )
        with self._lock:
            self.producing += 1
        try:
            for piece in self.answer:
                await _chunk(writer, piece)
                await asyncio.sleep(self.token_seconds)
            writer.write(b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n')
            writer.write(b"data: [DONE]\n\n")
            await writer.drain()
        finally:
            with self._lock:
                self.producing -= 1

    async def _until_closed(self, reader: asyncio.StreamReader) -> None:
        try:
            await reader.read(1)  # b"" once the client closes the connection
        except ConnectionError:
            pass
        with self._lock:
            self.closed_by_client += 1


async def _embeddings(writer: asyncio.StreamWriter, texts: list[str]) -> None:
    """/v1/embeddings: hashed bags of words, 384 numbers as the default model has (a stand-in
    that loads in no time, for tests that start many server processes)."""
    data = []
    for index, text in enumerate(texts):
        vector = [0.0] * 384
        for word in text.lower().split():
            vector[zlib.crc32(word.strip(".,?!").encode()) % 384] += 1.0
        vector[0] += 0.01  # never all zeros
        data.append({"object": "embedding", "index": index, "embedding": vector})
    body = json.dumps({"object": "list", "data": data, "model": "hash"}).encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()


def _event(text: str) -> bytes:
    data = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(data)}\n\n".encode()


async def _whole(writer: asyncio.StreamWriter, answer: list[str], compress: bool) -> None:
    """The answer in one body: gzip-compressed, or with JSON left unescaped (ensure_ascii off,
    as some servers send it, so U+2028 arrives raw)."""
    events = [{"choices": [{"delta": {"content": piece}}]} for piece in answer]
    events.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    body = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events).encode()
    head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n"
    if compress:
        body = gzip.compress(body)
        head += "content-encoding: gzip\r\n"
    writer.write(f"{head}\r\n".encode() + body)
    await writer.drain()


async def _chunk(writer: asyncio.StreamWriter, text: str) -> None:
    writer.write(_event(text))
    await writer.drain()


async def _json(writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()


async def _status(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    body = json.dumps({"error": {"message": message, "type": "fake"}}).encode()
    writer.write(
        f"HTTP/1.1 {status} Fake\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
