"""JSON from clients, refused when it nests deeper than anything we accept.

The stdlib decoder recurses once per level: "[" * 100000 raised RecursionError, a 500 over
HTTP and a dropped WebSocket. A cheap scan for the nesting depth runs first, and a
RecursionError that still slips through becomes the same 400.

Strings may not hold NUL (PostgreSQL text cannot store it) nor a lone surrogate escape such as
"\\ud800" (not encodable as UTF-8): either failed on its way into the database as a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.errors import BadRequest

MAX_DEPTH = 64  # our deepest legitimate body is a few levels: messages -> message -> content
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _too_deep(data: bytes) -> bool:
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return False  # cannot nest deeper than it has openers
    depth = 0
    for token in _TOKENS.finditer(data):
        char = token.group()[:1]
        if char in b"[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in b"]}":
            depth -= 1
    return False


def loads(data: bytes | str, what: str = "the JSON") -> Any:
    """The parsed document; BadRequest (code malformed_json) when it is not JSON we accept."""
    deep = f"{what} nests deeper than {MAX_DEPTH} levels; send a flatter JSON document"
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _too_deep(raw):
        raise BadRequest(deep, code="malformed_json")
    try:
        value = json.loads(data)
    except RecursionError:
        raise BadRequest(deep, code="malformed_json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"{what} is not valid JSON ({exc})", code="malformed_json") from None
    if _unstorable(value):
        raise BadRequest(
            f"{what} holds a NUL character or a lone UTF-16 surrogate (\\u0000, \\ud800...),"
            " which text cannot contain",
            code="malformed_json",
        )
    return value


def _unstorable(value: Any) -> bool:
    """Whether a string, key or item anywhere in `value` cannot be stored as text."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(item) for item in value)
    return False
