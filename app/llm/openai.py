"""Provider `openai`: any OpenAI-compatible /v1/chat/completions server, streamed with httpx.

Retries happen only before the first token: once text has reached the person, a retry would
repeat or contradict it. Closing the stream (cancel, disconnect) closes the upstream request.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import urllib.request
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from app.config import Settings
from app.infra.http1 import Http1Transport
from app.llm import prompt
from app.llm.base import DEFAULT_STYLE, LLMError, Passage, Style, Turn, Vectors

ATTEMPTS = 3
RETRY_DELAYS = (0.2, 1.0)  # seconds before the 2nd and 3rd attempts
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
# A standalone question is one sentence: its call is bounded far below LLM_MAX_TOKENS.
REWRITE_MAX_TOKENS = 100
# A short answer gets this share of LLM_MAX_TOKENS (the rule in the prompt asks for brevity;
# the bound keeps a model that ignores it from costing a long answer).
SHORT_SHARE = 4
log = logging.getLogger(__name__)

MODELS_SECONDS = 5.0  # listing the models (the assistant settings) waits at most this long
MAX_MODELS = 1000


class OpenAILLM:
    name = "openai"
    rewrites_questions = True
    needs_vectors = False

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        assert settings.llm_base_url is not None
        self.base_url = settings.llm_base_url
        self.model = settings.llm_model
        self.context_tokens = settings.llm_context_tokens
        self.read_timeout = settings.llm_read_timeout
        self.max_tokens = settings.llm_max_tokens
        # identity: the stream is read raw (a decoder per piece is one more layer per token),
        # and an event stream gains little from compression.
        headers = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        if settings.llm_api_key:
            headers["Authorization"] = f"Bearer {settings.llm_api_key}"
        if transport is None and not _proxied(self.base_url):
            transport = Http1Transport()
        # Its own client: answer streams are long-lived, and one worker holds thousands of
        # them, far past httpx's default limit of 100 connections.
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(settings.llm_read_timeout, connect=settings.llm_connect_timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            transport=transport,
        )

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        vectors: Vectors | None = None,
        style: Style = DEFAULT_STYLE,
    ) -> AsyncIterator[str]:
        max_tokens = self.max_tokens
        if style.length == "short":
            max_tokens = max(64, max_tokens // SHORT_SHARE)
        messages = prompt.answer_messages(question, passages, style)
        return self._complete(messages, model=style.model, max_tokens=max_tokens)

    async def models(self) -> list[str]:
        """The ids the server's GET /models lists; LLMError when it cannot say."""
        try:
            response = await self.client.get("/models", timeout=MODELS_SECONDS)
        except httpx.HTTPError as exc:
            raise LLMError(
                f"Could not list the models at LLM_BASE_URL ({type(exc).__name__}); check "
                "that the model server is running, and try again.",
                code="upstream_unreachable",
            ) from exc
        if response.status_code != 200:
            raise self._status_error(response)
        try:
            listed = response.json()["data"]
            ids = [m["id"] for m in listed[:MAX_MODELS] if isinstance(m.get("id"), str)]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise _malformed('GET /models did not answer {"data": [{"id": ...}]}') from None
        return sorted(set(ids) | {self.model})

    async def standalone_question(self, question: str, history: Sequence[Turn]) -> str | None:
        messages = prompt.rewrite_messages(question, history)
        parts: list[str] = []
        try:
            # One read timeout in all, retries included: the answer is still to come.
            async with asyncio.timeout(self.read_timeout):
                deltas = self._complete(messages, max_tokens=REWRITE_MAX_TOKENS)
                async with aclosing(deltas):
                    async for delta in deltas:
                        parts.append(delta)
        except (LLMError, TimeoutError) as exc:
            # The answer call will say what is wrong if the model is down; this one only
            # costs the follow-up its rewrite.
            log.warning("a follow-up was not rewritten (%s): searched with the conversation", exc)
            return None
        return prompt.rewrite_of("".join(parts), question, history)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _complete(
        self,
        messages: list[dict[str, str]],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        # max_tokens bounds what one answer can cost and how long it can stream.
        body = {
            "model": model or self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": max_tokens or self.max_tokens,
        }
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            started = False
            try:
                async with self.client.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code != 200:
                        await response.aread()
                        if response.status_code in RETRY_STATUSES and not last:
                            await asyncio.sleep(RETRY_DELAYS[attempt])
                            continue
                        raise self._status_error(response, body["model"])
                    async for delta in _deltas(response):
                        started = True
                        yield delta
                    return
            except httpx.TimeoutException as exc:
                if started or last:
                    raise LLMError(
                        f"The language model (LLM_BASE_URL) did not answer within "
                        f"{self.read_timeout:g} s; try again, or raise LLM_READ_TIMEOUT "
                        "if the model is slow.",
                        code="upstream_timeout",
                    ) from exc
            except httpx.TransportError as exc:
                if started:
                    raise LLMError(
                        "The language model's stream broke off before the answer was "
                        "finished; ask again.",
                        code="upstream_cut",
                    ) from exc
                if last:
                    raise LLMError(
                        "Could not reach the language model at LLM_BASE_URL "
                        f"({type(exc).__name__}); check LLM_BASE_URL and that the model "
                        "server is running.",
                        code="upstream_unreachable",
                    ) from exc
            await asyncio.sleep(RETRY_DELAYS[attempt])

    def _status_error(self, response: httpx.Response, model: str | None = None) -> LLMError:
        status = response.status_code
        detail = _error_detail(response)
        if status in (401, 403):
            hint = "check LLM_API_KEY"
        elif status == 404 and model not in (None, self.model):
            hint = f"the collection's assistant names the model {model!r}: choose another"
        elif status == 404:
            hint = f"check LLM_MODEL ({self.model!r}) and that LLM_BASE_URL ends in /v1"
        elif status in RETRY_STATUSES:
            hint = "the model server is overloaded or failing; try again in a moment"
        else:
            hint = "check the model server's log"
        return LLMError(
            f"The language model answered HTTP {status}{detail}: {hint}.",
            code="upstream_error",
        )


def _proxied(url: str) -> bool:
    """Whether the environment names a proxy for `url`, as httpx would read it (then httpx's
    own transport, which speaks to proxies, carries the requests)."""
    parts = httpx.URL(url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(parts.host)


async def _deltas(response: httpx.Response) -> AsyncIterator[str]:
    """Text deltas of an OpenAI chat-completion SSE stream; LLMError when it is malformed.

    The events of one piece of the body (what the transport hands over at once: all that
    arrived since the last read) come out as one delta, so an upstream that is ahead of a busy
    worker costs one event per read, not one per token.
    """
    identity = response.headers.get("content-encoding", "identity") == "identity"
    body = response.aiter_raw() if identity else response.aiter_bytes()
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending = ""
    async for raw in body:
        # Parsed in a function so that no piece of it stays in this frame while it waits:
        # a worker holds thousands of these.
        pending, text, finished, error = _parse(pending + decoder.decode(raw))
        if text:
            yield text
        if error is not None:
            raise error
        if finished:
            return
    # Neither [DONE] nor a finish_reason: the server or a proxy cut the stream.
    raise LLMError(
        "The language model's stream ended before the answer was finished; ask again.",
        code="upstream_cut",
    )


def _parse(text: str) -> tuple[str, str, bool, LLMError | None]:
    """(the unfinished last line, the text of the complete lines' events, whether the answer
    is finished, the error that came after that text)."""
    if "\r" in text:  # SSE lines may end in CRLF or CR; only LF is split on below
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Not splitlines(): it also splits at U+2028 and friends, which JSON may hold raw.
    *lines, pending = text.split("\n")
    pieces: list[str] = []
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments (pings), event names
        try:
            content, finished = _delta(line[5:].strip())
        except LLMError as exc:  # after the text that came before it
            return pending, "".join(pieces), False, exc
        if content:
            pieces.append(content)
        if finished:
            return pending, "".join(pieces), True, None
    return pending, "".join(pieces), False, None


def _delta(data: str) -> tuple[str | None, bool]:
    """(text, whether the answer is finished) of one `data:` line."""
    if data == "[DONE]":
        return None, True
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError:
        raise _malformed("a chunk is not valid JSON") from None
    if not isinstance(chunk, dict):
        raise _malformed("a chunk is not a JSON object")
    if "error" in chunk:
        raise LLMError(
            f"The language model reported an error mid-answer: {_message(chunk['error'])}",
            code="upstream_error",
        )
    try:
        choice = chunk["choices"][0] if chunk["choices"] else {}
        content = (choice.get("delta") or {}).get("content")
    except (KeyError, TypeError, AttributeError):
        raise _malformed("a chunk has no choices[0].delta") from None
    return content, bool(choice.get("finish_reason"))


def _malformed(what: str) -> LLMError:
    return LLMError(
        f"The language model server sent a malformed stream ({what}); check that "
        "LLM_BASE_URL points at an OpenAI-compatible /v1 endpoint.",
        code="upstream_malformed",
    )


def _error_detail(response: httpx.Response) -> str:
    try:
        payload: Any = response.json()
        text = _message(payload.get("error", payload)) if isinstance(payload, dict) else ""
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text
    text = " ".join(text.split())[:200]
    return f" ({text})" if text else ""


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
