"""The ASGI middleware in front of every HTTP request and WebSocket.

In order: the Host must be one of ALLOWED_HOSTS (DNS rebinding); a path or query holding NUL
(%00) is refused; X-Forwarded-* are believed from FORWARDED_ALLOW_IPS only; the caller is found
from an API key or the session cookie and put in scope["state"]["principal"]; anonymous callers
reach only the public paths; a cookie-authenticated change needs the site's Origin and the
session's CSRF token; asks, uploads, searches, logins and invitation use are rate limited;
every response gets the security headers.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import tokens
from app.auth.headers import security_headers
from app.auth.principal import Principal
from app.auth.ratelimit import Limiter, make_limiter
from app.auth_settings import AuthSettings, Limit
from app.db import unavailable
from app.db import users as user_sql
from app.errors import Overloaded

log = logging.getLogger(__name__)

SESSION_COOKIE = "session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_PATHS = frozenset(
    ["/healthz", "/readyz", "/openapi.json", "/metrics", "/login", "/setup", "/favicon.ico"]
    + ["/api/auth/login", "/api/auth/logout", "/api/auth/setup", "/api/auth/signup"]
)
# /shared/: a share link's page decides itself (public links need no sign-in, others redirect).
PUBLIC_PREFIXES = ("/static/", "/invite/", "/shared/")
# Sign-in and sign-up need no session, but are still checked against the Origin (login CSRF).
NO_TOKEN_PATHS = frozenset(["/api/auth/login", "/api/auth/setup", "/api/auth/signup"])
API_PREFIXES = ("/api/", "/v1/", "/ws/", "/mcp")
NO_KEY = "sign in, or send an API key as Authorization: Bearer <key>"
NUL_IN_URL = "the address holds a NUL character (%00), which no path or query may contain"
BAD_KEY = "the API key is not valid: it was revoked, has expired or never existed"
# A key's user is remembered this long per process, so a burst of API calls costs one lookup;
# another process sees a revocation or a membership change at most this late. Any change made
# through this process's auth, account, admin or upload routes forgets them all at once.
KEY_CACHE_SECONDS = 1.0
KEY_CACHE_SIZE = 10_000
FORGETTING_PREFIXES = (
    "/api/auth/",
    "/api/account/",
    "/api/admin/",
    "/api/documents",
    "/api/collections",
)


def _host_name(host: str) -> str:
    """The name part of a Host header: 'example.org:8000' -> 'example.org'."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@functools.lru_cache(maxsize=1024)
def _trusted(ip: str | None, allowed: tuple[str, ...]) -> bool:
    if ip is None:
        return False
    if "*" in allowed:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowed)


class AuthMiddleware:
    def __init__(self, http: ASGIApp, websocket: ASGIApp) -> None:
        self.http = http
        self.websocket = websocket
        self._limiter: tuple[Any, Limiter] | None = None
        self._has_users = False  # once true, stays true: users are not all deleted
        self._keys: dict[bytes, tuple[float, Any]] = {}  # key digest -> (until, user row)

    def limiter(self, resources: Any) -> Limiter:
        if self._limiter is None or self._limiter[0] is not resources:
            self._limiter = (resources, make_limiter(resources.settings.redis_url))
        return self._limiter[1]

    async def aclose(self) -> None:
        """Close the rate limiter's Redis client (the app's lifespan ends)."""
        if self._limiter is not None:
            limiter, self._limiter = self._limiter[1], None
            await limiter.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources = scope["state"]["resources"]
        settings: AuthSettings = resources.settings.auth
        headers = _headers(scope)
        websocket = scope["type"] == "websocket"
        host = _host_name(headers.get("host", "").lower())
        if "*" not in settings.allowed_hosts and host not in settings.allowed_hosts:
            return await self._refuse(
                scope, send, 400, "bad_host", f"the Host {host!r} is not in ALLOWED_HOSTS"
            )
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No name, id or query holds NUL, and PostgreSQL text cannot store one.
            return await self._refuse(scope, send, 400, "bad_request", NUL_IN_URL)
        scope = self._behind_proxy(scope, headers, settings)
        tls = scope["scheme"] in ("https", "wss")
        site = f"{'https' if tls else 'http'}://{headers.get('host', '')}"
        scope["state"]["site_origin"] = site

        try:
            principal, key_refused = await self._authenticate(resources, headers, settings)
        except Exception as exc:
            if isinstance(exc, Overloaded):  # every pooled connection busy: not an outage
                code, message, retry_after = exc.code, exc.message, exc.retry_after
            elif unavailable.is_unavailable(exc):
                log.warning("database unavailable while authenticating: %r", exc)
                code, message = "database_unavailable", unavailable.MESSAGE
                retry_after = unavailable.RETRY_AFTER_SECONDS
            else:
                raise
            if scope["path"] not in PUBLIC_PATHS:
                retry = [(b"retry-after", str(retry_after).encode())]
                return await self._refuse(scope, send, 503, code, message, retry)
            # Anyone may call a public path: /readyz then says itself what is down.
            principal, key_refused = None, False
        scope["state"]["principal"] = principal
        # For a route that counts inside the request (an MCP tool call): `await
        # rate_limit("asks")` is None, or the seconds to wait; the same counters as below.
        scope["state"]["rate_limit"] = functools.partial(
            self._count, resources, principal, settings
        )
        path: str = scope["path"]
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        origin = headers.get("origin")

        if websocket:
            # A browser sends the cookie with any site's WebSocket: only our own origin counts.
            if principal is not None and principal.via == "session" and origin != site:
                principal = scope["state"]["principal"] = None
            if principal is None:
                return await self._refuse(scope, send, 403, "unauthorized", NO_KEY)
            limited = self._limit_ws_asks(scope, receive, send, principal, settings)
            return await self.websocket(scope, limited, send)

        method = scope["method"]
        if principal is None and not public:
            if key_refused:
                return await self._refuse(scope, send, 401, "invalid_api_key", BAD_KEY)
            return await self._anonymous(scope, send, resources)
        if method not in SAFE_METHODS and (principal is not None or path in NO_TOKEN_PATHS):
            # Origin: what any browser sends on a cross-site POST; a bearer key is not sent by
            # browsers on their own, so only cookie sessions (and sign-in forms) are checked.
            if (principal is None or principal.via == "session") and origin not in (None, site):
                return await self._refuse(
                    scope, send, 403, "bad_origin", "the request came from another site"
                )
            if (
                principal is not None
                and principal.via == "session"
                and path not in NO_TOKEN_PATHS
                and headers.get(CSRF_HEADER) != principal.csrf_token
            ):
                return await self._refuse(
                    scope, send, 403, "csrf", "the CSRF token is missing or wrong: reload the page"
                )
        retry = await self._rate_limit(resources, scope, headers, principal, settings)
        if retry is not None:
            return await self._refuse(
                scope,
                send,
                429,
                "rate_limited",
                f"too many requests: try again in {retry} s",
                [(b"retry-after", str(retry).encode())],
            )
        extra = security_headers(tls)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.http(scope, receive, send_with_headers)
        finally:
            if method not in SAFE_METHODS and path.startswith(FORGETTING_PREFIXES):
                self._keys.clear()

    def _behind_proxy(self, scope: Scope, headers: dict[str, str], settings: AuthSettings) -> Scope:
        client = scope.get("client")
        if not _trusted(client[0] if client else None, settings.forwarded_allow_ips):
            return scope
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        forwarded_for = headers.get("x-forwarded-for", "").split(",")[0].strip()
        if not proto and not forwarded_for:
            return scope
        # In place, as uvicorn's proxy-headers middleware does: the access log outside reads
        # what the app below leaves in this scope (the matched route).
        if proto in ("http", "https"):
            websocket = scope["type"] == "websocket"
            scope["scheme"] = {"http": "ws", "https": "wss"}[proto] if websocket else proto
        if forwarded_for:
            scope["client"] = (forwarded_for, 0)
        return scope

    async def _authenticate(
        self, resources: Any, headers: dict[str, str], settings: AuthSettings
    ) -> tuple[Principal | None, bool]:
        """(the caller or None, whether a presented key was refused)."""
        authorization = headers.get("authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            digest = tokens.digest(credential.strip())
            cached = self._keys.get(digest)
            if cached is not None and cached[0] > time.monotonic():
                row = cached[1]
            else:
                async with resources.pool.acquire() as conn:
                    row = await user_sql.key_user(conn, digest)
                if row is None:
                    return None, True
                if len(self._keys) >= KEY_CACHE_SIZE:
                    self._keys.clear()
                self._keys[digest] = (time.monotonic() + KEY_CACHE_SECONDS, row)
            return Principal(
                row["id"], row["email"], row["role"], "key", readable=row["readable"]
            ), False
        cookie = _cookie(headers, SESSION_COOKIE)
        if cookie:
            id_hash = tokens.digest(cookie)
            async with resources.pool.acquire() as conn:
                row = await user_sql.session_user(conn, id_hash, settings.session_idle_seconds)
            if row is not None:
                return Principal(
                    row["id"],
                    row["email"],
                    row["role"],
                    "session",
                    row["csrf_token"],
                    id_hash,
                    row["readable"],
                ), False
        return None, False

    async def _anonymous(self, scope: Scope, send: Send, resources: Any) -> None:
        path = scope["path"]
        if path.startswith(API_PREFIXES):
            return await self._refuse(
                scope, send, 401, "unauthorized", NO_KEY, [(b"www-authenticate", b"Bearer")]
            )
        if not self._has_users:
            async with resources.pool.acquire() as conn:
                self._has_users = await user_sql.any_user(conn)
        target = "/login" if self._has_users else "/setup"
        if self._has_users and path != "/":
            target += "?next=" + quote(path, safe="/")
        tls = scope["scheme"] == "https"
        await _send(send, 303, b"", [(b"location", target.encode()), *security_headers(tls)])

    async def _rate_limit(
        self,
        resources: Any,
        scope: Scope,
        headers: dict[str, str],
        principal: Principal | None,
        settings: AuthSettings,
    ) -> int | None:
        kind = _limited_kind(scope["method"], scope["path"], headers)
        if kind is None:
            return None
        limit: Limit = getattr(settings, f"limit_{kind}")
        if kind in ("logins", "invitations"):
            client = scope.get("client")
            who = f"ip:{client[0] if client else '-'}"
        elif principal is None:
            return None
        else:
            who = f"user:{principal.user_id}"
        return await self.limiter(resources).hit(f"{kind}:{who}", limit)

    async def _count(
        self, resources: Any, principal: Principal | None, settings: AuthSettings, kind: str
    ) -> int | None:
        if principal is None:
            return None
        limit: Limit = getattr(settings, f"limit_{kind}")
        return await self.limiter(resources).hit(f"{kind}:user:{principal.user_id}", limit)

    def _limit_ws_asks(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        principal: Principal,
        settings: AuthSettings,
    ) -> Receive:
        """Count each {"type": "ask"} message; one over the limit is answered with an error
        event and not passed on."""
        limiter = self.limiter(scope["state"]["resources"])

        async def limited() -> Message:
            while True:
                message = await receive()
                text = message.get("text")
                if message["type"] != "websocket.receive" or not text or '"ask"' not in text:
                    return message
                retry = await limiter.hit(f"asks:user:{principal.user_id}", settings.limit_asks)
                if retry is None:
                    return message
                error = {
                    "type": "error",
                    "code": "rate_limited",
                    "message": f"too many questions: try again in {retry} s",
                    "retry_after": retry,
                }
                await send({"type": "websocket.send", "text": json.dumps(error)})

        return limited

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        tls = scope["scheme"] in ("https", "wss")
        all_headers = [(b"content-type", b"application/json"), *(headers or [])]
        all_headers += security_headers(tls)
        if scope["type"] == "websocket":
            if status == 503 and "websocket.http.response" in scope.get("extensions", {}):
                # The handshake answered as HTTP: 503 with Retry-After, as for SSE and /v1.
                return await _send(send, status, body, all_headers, "websocket.http.response")
            # Before accept: the server answers the handshake with 403 (1013: try later).
            close = 1013 if status == 503 else 1008
            await send({"type": "websocket.close", "code": close, "reason": message[:120]})
            return
        await _send(send, status, body, all_headers)


def _limited_kind(method: str, path: str, headers: dict[str, str]) -> str | None:
    if path == "/api/chat" and not headers.get("last-event-id"):
        return "asks"
    if method == "POST" and path == "/v1/chat/completions":
        return "asks"
    if method == "POST" and path == "/api/documents":
        return "uploads"
    if path == "/api/search":
        return "searches"
    if method == "POST" and path in ("/api/auth/login", "/api/auth/setup"):
        return "logins"  # both hash a password a stranger sends
    if method == "POST" and path == "/api/auth/signup":
        return "invitations"
    return None


WANTED = frozenset(
    [b"host", b"authorization", b"cookie", b"origin", b"x-csrf-token", b"last-event-id"]
    + [b"x-forwarded-proto", b"x-forwarded-for"]
)


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers this middleware reads, in one pass (cookies joined)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.lower()
        if name in WANTED:
            key, value = name.decode(), raw_value.decode("latin-1")
            found[key] = f"{found[key]}; {value}" if key == "cookie" and key in found else value
    return found


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _send(
    send: Callable[[Message], Awaitable[None]],
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    kind: str = "http.response",
) -> None:
    await send(
        {
            "type": f"{kind}.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": f"{kind}.body", "body": body})
