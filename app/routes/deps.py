"""Small helpers the route modules share."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.types import Message, Receive

from app.auth.errors import TooManyRequests
from app.auth.passwords import HashGate
from app.db.collections import DEFAULT as DEFAULT_COLLECTION
from app.db.collections import NAME as collection_names
from app.db.collections import NAME_RULE, REFERENCE
from app.errors import BadRequest, NotFound, PayloadTooLarge
from app.resources import Resources
from app.text import json_input


def resources_of(request: Request) -> Resources:
    return request.state.resources


def parse_uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"there is no {what} {value!r}") from None


INT64_MAX = 2**63 - 1  # PostgreSQL bigint: a larger number fails in the driver


def whole_number(value: str, what: str, low: int = 0, high: int = INT64_MAX) -> int:
    """A query or path value as an integer from low to high; 400 naming `what` otherwise.

    Only ASCII digits: str.isdigit() also accepts "²", which int() then refuses."""
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise BadRequest(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return int(value)


def parse_collection_name(value: object, default: str | None = DEFAULT_COLLECTION) -> str | None:
    """A collection name (or "id:N") from a form or query; 400 when it could not be one."""
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not (
        collection_names.fullmatch(value) or REFERENCE.fullmatch(value)
    ):
        raise BadRequest(
            f"{value!r} is not a valid collection name: use {NAME_RULE}", code="bad_collection"
        )
    return value


def capped_receive(receive: Receive, limit: int, message: str) -> Receive:
    """Wrap receive so a body longer than `limit` bytes stops with 413 as soon as it shows."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        event = await receive()
        seen += len(event.get("body", b""))
        if seen > limit:
            raise PayloadTooLarge(message)
        return event

    return wrapped


async def read_json(request: Request, *, limit: int = 64 * 1024) -> Any:
    """The request body as JSON; 400 with a helpful message when it is not."""
    capped = Request(
        request.scope, capped_receive(request.receive, limit, "the JSON body is too large")
    )
    body = await capped.body()
    return json_input.loads(body, "the request body")


def password_gate(request: Request) -> HashGate:
    """The process's bound on concurrent Argon2 work, kept by the auth middleware."""
    return request.scope["state"]["password_gate"]


async def limit(request: Request, kind: str, who: str) -> None:
    """Count one against RATE_LIMIT_<KIND> for `who` (something the handler parsed, such as
    the account a sign-in is for); 429 when over."""
    retry = await request.scope["state"]["rate_limit"](kind, who)
    if retry is not None:
        raise TooManyRequests(f"too many attempts: try again in {retry} s", retry_after=retry)
