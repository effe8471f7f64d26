"""Who may call a route or a WebSocket message, declared in one line next to its handler:

    @policy("reader", limit="searches")
    async def search(request): ...

The middleware (app/auth/middleware.py) matches the request against the route table, reads the
handler's declaration and enforces it; it keeps no list of paths. tests/auth/test_policy.py
walks the route table and fails on a route that declares nothing. A WebSocket message type is
declared the same way in its handler's dispatch table (app/websocket.py) and checked with
`check_message` once the message is parsed: limits count what the handler will act on, never
raw text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

Access = Literal["public", "reader", "editor", "admin"]
Csrf = Literal["unsafe", "always", "origin"]
Per = Literal["user", "address"]
ROLE_RANK = {"reader": 0, "editor": 1, "admin": 2}
ATTRIBUTE = "__policy__"
F = TypeVar("F")


@dataclass(frozen=True)
class Policy:
    """What the middleware checks before the handler runs.

    access: "public" (anyone, also anonymous), or the least role of a signed-in caller.
    csrf: for a caller signed in with a cookie, "unsafe" checks the site's Origin and the CSRF
      token on POST/PUT/PATCH/DELETE; "always" also on GET (a handler that changes state, e.g.
      asks a question); "origin" checks only the Origin (sign-in forms: no session yet).
    limit: the rate limit counted (a RATE_LIMIT_* setting: asks, uploads, searches, logins,
      invitations, renders), per signed-in user or per client address.
    limit_unless: a request header whose presence means "no new work" (a stream's resume).
    secrets: path parameters that are credentials, kept out of every log line.
    authenticate: False for a public route that never looks at its caller, so it answers
      whatever the database does (a liveness probe): credentials sent to it are not looked up.
    """

    access: Access
    csrf: Csrf = "unsafe"
    limit: str | None = None
    per: Per = "user"
    limit_unless: str | None = None
    secrets: tuple[str, ...] = ()
    authenticate: bool = True

    def allows(self, role: str | None) -> bool:
        if self.access == "public":
            return True
        return role is not None and ROLE_RANK[role] >= ROLE_RANK[self.access]


def policy(access: Access, **options: Any) -> Callable[[F], F]:
    """Declare a handler's policy (see Policy): `@policy("editor", limit="uploads")`."""
    declared = Policy(access, **options)

    def mark(handler: F) -> F:
        setattr(handler, ATTRIBUTE, declared)
        return handler

    return mark


def declare(app: F, access: Access, **options: Any) -> F:
    """The same for an object that is not a function (a mounted ASGI app such as StaticFiles)."""
    return policy(access, **options)(app)


def policy_of(target: object) -> Policy | None:
    """A route's (its endpoint's, or a Mount's app's) or an app's declared policy."""
    for candidate in (getattr(target, "endpoint", None), getattr(target, "app", None), target):
        found = getattr(candidate, ATTRIBUTE, None)
        if isinstance(found, Policy):
            return found
    return None


# What an unmatched path gets (the router answers 404 or 405): signed-in callers only, so an
# anonymous probe learns nothing about which paths exist.
UNMATCHED = Policy("reader")


def match(routes: Iterable[BaseRoute], scope: Scope) -> tuple[Policy, dict[str, Any]]:
    """The policy of the route that will serve this request, and its path parameters.

    A path whose method is wrong (405) takes its route's policy; a route without one (a test
    prevents it) is treated as UNMATCHED."""
    partial: tuple[Policy, dict[str, Any]] | None = None
    for route in routes:
        found, child = route.matches(scope)
        if found is Match.FULL:
            return policy_of(route) or UNMATCHED, child.get("path_params", {})
        if found is Match.PARTIAL and partial is None:
            partial = policy_of(route) or UNMATCHED, child.get("path_params", {})
    return partial or (UNMATCHED, {})


def redacted_path(path: str, params: dict[str, Any], secrets: tuple[str, ...]) -> str:
    """The path with its secret parameters' values replaced, for the logs."""
    for name in secrets:
        value = params.get(name)
        if isinstance(value, str) and value:
            path = path.replace(value, "[redacted]")
    return path
