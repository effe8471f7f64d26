"""Every route and every WebSocket message type declares its policy next to its handler."""

from __future__ import annotations

from starlette.routing import Mount, Route

from app.auth.policy import Policy, policy_of
from app.mcp.transport import routes as mcp_routes
from app.routes import routes as http_routes
from app.websocket import MESSAGES, chat_websocket

# Every route the site serves: the HTTP routes and the MCP endpoint beside them (app/asgi.py).
routes = [*http_routes, *mcp_routes]


def _name(route) -> str:
    methods = ",".join(sorted(getattr(route, "methods", None) or ["*"]))
    return f"{methods} {route.path}"


def test_every_route_declares_its_policy():
    undeclared = [_name(r) for r in routes if not isinstance(policy_of(r), Policy)]
    assert not undeclared, f"routes without @policy(...) next to their handler: {undeclared}"
    assert all(isinstance(r, Route | Mount) for r in routes)


def test_every_websocket_message_type_declares_its_policy():
    assert isinstance(policy_of(chat_websocket), Policy)
    assert MESSAGES and all(isinstance(declared, Policy) for declared, _ in MESSAGES.values())


def test_a_route_without_a_declaration_is_found_by_the_walk():
    async def undeclared(request):  # what a helper might add and forget to declare
        raise AssertionError

    assert policy_of(Route("/api/new", undeclared)) is None


def test_public_routes_are_the_few_that_must_be():
    # A new public route is a security decision: add it here on purpose.
    public = {_name(r) for r in routes if policy_of(r).access == "public"}
    assert public == {
        "GET,HEAD /healthz",
        "GET,HEAD /readyz",
        "GET,HEAD /openapi.json",
        "GET,HEAD /metrics",
        "GET,HEAD /login",
        "GET,HEAD /setup",
        "GET,HEAD /invite/{token}",
        "POST /api/auth/login",
        # Sign-in with the OpenID Provider: a redirect there, and its redirect back.
        "GET,HEAD /api/auth/oidc/start",
        "GET,HEAD /api/auth/oidc/callback",
        "POST /api/auth/logout",
        "POST /api/auth/setup",
        "POST /api/auth/signup",
        "GET,HEAD /favicon.ico",
        "* /static",
        # A share link's page decides itself: public links need no sign-in, others redirect.
        "GET,HEAD /shared/{token}",
        # McpEndpoint refuses every caller without an API key itself (401, WWW-Authenticate).
        "DELETE,GET,HEAD,POST /mcp",
    }
