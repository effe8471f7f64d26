"""The ASGI middleware in front of every HTTP request and WebSocket.

In order: the Host must be one of ALLOWED_HOSTS (DNS rebinding); a path or query holding NUL
(%00) is refused; X-Forwarded-* are believed from FORWARDED_ALLOW_IPS only; the caller is found
from an API key or the session cookie and put in scope["state"]["principal"]. Then the policy
the matched route declares next to its handler (app/auth/policy.py) decides: who may call it,
whether the Origin and CSRF token are checked, which rate limit it counts against. This module
holds no list of paths. Every response gets the security headers, and a signed-in one
`Cache-Control: no-store`.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import tokens
from app.auth.headers import merge_headers, security_headers
from app.auth.passwords import HashGate
from app.auth.policy import Policy, match, policy_of, redacted_path
from app.auth.principal import Principal
from app.auth.ratelimit import Limiter, make_limiter
from app.auth_settings import AuthSettings, Limit
from app.db import unavailable
from app.db import users as user_sql
from app.errors import Overloaded

log = logging.getLogger(__name__)

SESSION_COOKIE = "session"
CSRF_HEADER = "x-csrf-token"
CSRF_QUERY = "csrf_token"  # for a GET that changes state and cannot send headers (EventSource)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Where a refusal is JSON rather than a redirect to the sign-in page or an HTML page.
API_PREFIXES = ("/api/", "/v1/", "/ws/", "/mcp")
NO_KEY = "sign in, or send an API key as Authorization: Bearer <key>"
NUL_IN_URL = "the address holds a NUL character (%00), which no path or query may contain"
BAD_KEY = "the API key is not valid: it was revoked, has expired or never existed"
NO_STORE = (b"cache-control", b"no-store")
# A key's user is remembered this long per process, so a burst of API reads costs one lookup;
# another process sees a revocation or a membership change at most this late. Any change
# (a request with an unsafe method) made through this process forgets them all at once.
KEY_CACHE_SECONDS = 1.0
KEY_CACHE_SIZE = 10_000


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
    def __init__(self, http: Any, websocket: ASGIApp) -> None:
        self.http = http  # a Starlette app: its router's routes carry the policies
        self.websocket = websocket
        self._limiter: tuple[Any, Limiter] | None = None
        self._has_users = False  # once true, stays true: users are not all deleted
        self._keys: dict[bytes, tuple[float, Any]] = {}  # key digest -> (until, user row)
        self._gate: HashGate | None = None

    def gate(self, settings: AuthSettings) -> HashGate:
        """This process's bound on concurrent Argon2 work (app/auth/passwords.py)."""
        if self._gate is None:
            self._gate = HashGate(settings.password_hashes, settings.password_wait_seconds)
        return self._gate

    def limiter(self, resources: Any) -> Limiter:
        if self._limiter is None or self._limiter[0] is not resources:
            self._limiter = (resources, make_limiter(resources.settings.redis_url))
        return self._limiter[1]

    async def aclose(self) -> None:
        """Close the rate limiter's Redis client (the app's lifespan ends)."""
        if self._limiter is not None:
            limiter, self._limiter = self._limiter[1], None
            await limiter.aclose()

    def policy(self, scope: Scope) -> tuple[Policy, dict[str, Any]]:
        if scope["type"] == "websocket":
            return policy_of(self.websocket) or Policy("reader"), {}
        return match(self.http.router.routes, scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources = scope["state"]["resources"]
        settings: AuthSettings = resources.settings.auth
        headers = _headers(scope)
        websocket = scope["type"] == "websocket"
        declared, params = self.policy(scope)
        # The access log (outside) writes this path: credentials in it are never logged.
        scope["log_path"] = redacted_path(scope["path"], params, declared.secrets)
        host = _host_name(headers.get("host", "").lower())
        if "*" not in settings.allowed_hosts and host not in settings.allowed_hosts:
            return await self._refuse(
                scope, send, 400, "bad_host", f"the Host {host!r} is not in ALLOWED_HOSTS"
            )
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No name, id or query holds NUL, and PostgreSQL text cannot store one.
            return await self._refuse(scope, send, 400, "bad_request", NUL_IN_URL)
        if declared.limit == "asks" and not websocket and not _resuming(scope, declared):
            # A burst's excess is told first, before it costs a key lookup or a parse.
            if (overloaded := resources.admission.refuses_now()) is not None:
                retry = [(b"retry-after", str(overloaded.retry_after).encode())]
                code, message = overloaded.code, overloaded.message
                return await self._refuse(scope, send, 503, code, message, retry)
        scope = self._behind_proxy(scope, headers, settings)
        tls = scope["scheme"] in ("https", "wss")
        site = f"{'https' if tls else 'http'}://{headers.get('host', '')}"
        scope["state"]["site_origin"] = site

        try:
            principal, key_refused = (
                await self._authenticate(resources, headers, settings)
                if declared.authenticate or declared.access != "public"
                else (None, False)
            )
        except Exception as exc:
            if isinstance(exc, Overloaded):  # every pooled connection busy: not an outage
                code, message, retry_after = exc.code, exc.message, exc.retry_after
            elif unavailable.is_unavailable(exc):
                log.warning("database unavailable while authenticating: %r", exc)
                code, message = "database_unavailable", unavailable.MESSAGE
                retry_after = unavailable.RETRY_AFTER_SECONDS
            else:
                raise
            if declared.access != "public":
                retry = [(b"retry-after", str(retry_after).encode())]
                return await self._refuse(scope, send, 503, code, message, retry)
            # Anyone may call a public route: /readyz then says itself what is down.
            principal, key_refused = None, False
        origin = headers.get("origin")
        if websocket and principal is not None and principal.via == "session" and origin != site:
            # A browser sends the cookie with any site's WebSocket: only our own origin counts.
            principal = None
        scope["state"]["principal"] = principal
        # A public page that wants a signed-in viewer answers 401 to a refused key, not a
        # redirect to the sign-in page (app/auth/access.py: sign_in_needed).
        scope["state"]["key_refused"] = key_refused
        scope["state"]["rate_limit"] = functools.partial(self._hit, resources, settings)
        scope["state"]["password_gate"] = self.gate(settings)
        if not declared.allows(principal.role if principal else None):
            if principal is not None:
                message = f"this needs the {declared.access} role; you are a {principal.role}"
                return await self._refuse(scope, send, 403, "forbidden", message)
            if websocket:
                return await self._refuse(scope, send, 403, "unauthorized", NO_KEY)
            if key_refused:
                return await self._refuse(scope, send, 401, "invalid_api_key", BAD_KEY)
            return await self._anonymous(scope, send, resources)
        if websocket:
            # Each message type is checked by the handler once parsed (app/websocket.py).
            scope["state"]["admit"] = functools.partial(self.admit, scope, principal)
            return await self.websocket(scope, receive, send)

        method = scope["method"]
        refused = self._cross_site(scope, headers, principal, declared, site)
        if refused is not None:
            return await self._refuse(scope, send, 403, *refused)
        if not _resuming(scope, declared):
            retry = await self._count(resources, settings, scope, principal, declared)
            if retry is not None:
                return await self._too_many(scope, send, retry)
        extra = security_headers(tls)
        if principal is not None and declared.access != "public":
            extra = [NO_STORE, *extra]  # nothing of a signed-in caller's in a shared cache

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = merge_headers(message.get("headers", []), extra)
            await send(message)

        try:
            await self.http(scope, receive, send_with_headers)
        finally:
            if method not in SAFE_METHODS:
                self._keys.clear()

    def _cross_site(
        self,
        scope: Scope,
        headers: dict[str, str],
        principal: Principal | None,
        declared: Policy,
        site: str,
    ) -> tuple[str, str] | None:
        """(code, message) when a browser may have been made to send this by another site."""
        unsafe = scope["method"] not in SAFE_METHODS or declared.csrf == "always"
        # A bearer key is not sent by browsers on their own: only cookies (and forms that sign
        # in, which have no session yet) can be forged by another site.
        by_browser = principal.via == "session" if principal else declared.csrf == "origin"
        if not unsafe or not by_browser:
            return None
        origin = headers.get("origin")
        if origin not in (None, site):
            return "bad_origin", "the request came from another site"
        if principal is None or declared.csrf == "origin":
            return None
        if declared.csrf == "always" and scope["method"] in SAFE_METHODS:
            # A GET that changes state: the page's own fetch (same-origin fetch metadata), or
            # the token as a header or ?csrf_token= (EventSource cannot send headers).
            if headers.get("sec-fetch-site") == "same-origin":
                return None
            query = _query_value(scope, CSRF_QUERY)
            if query is not None and query == principal.csrf_token:
                return None
        if headers.get(CSRF_HEADER) != principal.csrf_token:
            return "csrf", "the CSRF token is missing or wrong: reload the page"
        return None

    async def admit(
        self, scope: Scope, principal: Principal, declared: Policy
    ) -> dict[str, Any] | None:
        """For a WebSocket message, once parsed: None when it may go on, else the error event."""
        if not declared.allows(principal.role):
            message = f"this needs the {declared.access} role; you are a {principal.role}"
            return {"code": "forbidden", "message": message}
        resources = scope["state"]["resources"]
        retry = await self._count(resources, resources.settings.auth, scope, principal, declared)
        if retry is not None:
            message = f"too many requests: try again in {retry} s"
            return {"code": "rate_limited", "message": message, "retry_after": retry}
        return None

    async def _count(
        self,
        resources: Any,
        settings: AuthSettings,
        scope: Scope,
        principal: Principal | None,
        declared: Policy,
    ) -> int | None:
        """Count the request against its declared limit: None, or seconds until allowed."""
        if declared.limit is None:
            return None
        if declared.per == "address":
            client = scope.get("client")
            who = f"ip:{client[0] if client else '-'}"
        elif principal is None:
            return None
        else:
            who = f"user:{principal.user_id}"
        return await self._hit(resources, settings, declared.limit, who)

    async def _hit(self, resources: Any, settings: AuthSettings, kind: str, who: str) -> int | None:
        """Count one against the RATE_LIMIT_<kind> setting for `who` (also for handlers that
        limit by what they parsed, e.g. sign-ins per account)."""
        limit: Limit = getattr(settings, f"limit_{kind}")
        return await self.limiter(resources).hit(f"{kind}:{who}", limit)

    async def _too_many(self, scope: Scope, send: Send, retry: int) -> None:
        message = f"too many requests: try again in {retry} s"
        retry_after = [(b"retry-after", str(retry).encode())]
        await self._refuse(scope, send, 429, "rate_limited", message, retry_after)

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
                row["id"],
                row["email"],
                row["role"],
                "key",
                readable=row["readable"],
                scopes=tuple(row["scopes"]),
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

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        status: int,
        code: str,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        tls = scope["scheme"] in ("https", "wss")
        if scope["type"] == "websocket":
            if status == 503 and "websocket.http.response" in scope.get("extensions", {}):
                # The handshake answered as HTTP: 503 with Retry-After, as for SSE and /v1.
                body = json.dumps({"error": {"code": code, "message": message}}).encode()
                all_headers = [(b"content-type", b"application/json"), *(headers or [])]
                all_headers += security_headers(tls)
                return await _send(send, status, body, all_headers, "websocket.http.response")
            # Before accept: the server answers the handshake with 403 (1013: try later).
            close = 1013 if status == 503 else 1008
            await send({"type": "websocket.close", "code": close, "reason": message[:120]})
            return
        if scope["path"].startswith(API_PREFIXES) or status != 403:
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            kind = b"application/json"
        else:  # a page the caller may not see (the route's role): a page that says why
            text = html.escape(message)
            body = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{text}</p>".encode()
            kind = b"text/html; charset=utf-8"
        await _send(
            send,
            status,
            body,
            [(b"content-type", kind), *(headers or []), *security_headers(tls)],
        )


WANTED = frozenset(
    [b"host", b"authorization", b"cookie", b"origin", b"x-csrf-token", b"last-event-id"]
    + [b"x-forwarded-proto", b"x-forwarded-for", b"sec-fetch-site"]
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


def _resuming(scope: Scope, declared: Policy) -> bool:
    """A request the policy exempts from its limit by a header (a stream resumed by
    Last-Event-ID is not a new ask)."""
    return declared.limit_unless is not None and _has_header(scope, declared.limit_unless)


def _has_header(scope: Scope, name: str) -> bool:
    """Whether the request sends a non-empty header of that (lower-case) name."""
    wanted = name.encode()
    return any(key.lower() == wanted and value for key, value in scope["headers"])


def _query_value(scope: Scope, name: str) -> str | None:
    """One query parameter's value, decoded (the first one when repeated)."""
    for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if key == name:
            return value
    return None


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
