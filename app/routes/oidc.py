"""Sign in with an OpenID Provider (OIDC_ISSUER...): /api/auth/oidc/start sends the browser there,
/api/auth/oidc/callback brings it back signed in. The protocol is app/auth/oidc.py.

The state travels in the provider's redirect and in a short-lived HttpOnly cookie of this
browser (so a callback URL made by someone else signs nobody in); the nonce and PKCE verifier
stay in Postgres under the state's digest, used once. A user is made at the first sign-in,
or linked by a verified email; every failure is a page that says what to do, never a 500.
"""

from __future__ import annotations

import hmac
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.auth import sessions, tokens
from app.auth.audit import audit
from app.auth.oidc_types import Identity, OidcError
from app.auth.policy import ROLE_RANK, policy
from app.auth_settings import OidcSettings
from app.db import identities
from app.db import users as user_sql
from app.errors import NotFound
from app.routes.auth import site_path
from app.routes.deps import resources_of
from app.templating import templates

STATE_COOKIE = "oidc_state"
COOKIE_PATH = "/api/auth/oidc"
START_AGAIN = "this sign-in was not started in this browser or took too long: start it again"


def _settings(request: Request) -> OidcSettings:
    found = resources_of(request).settings.auth.oidc
    if found is None:
        raise NotFound("sign-in with an OpenID Provider is not configured on this site")
    return found


def _redirect_uri(request: Request) -> str:
    return f"{request.scope['state']['site_origin']}{COOKIE_PATH}/callback"


def _failed(request: Request, settings: OidcSettings, error: OidcError) -> Response:
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"oidc_name": settings.name, "oidc_error": error.message, "next": "/"},
        status_code=error.status,
    )
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    return response


@policy("public", limit="logins", per="address")
async def start(request: Request) -> Response:
    settings = _settings(request)
    from app.auth import oidc  # its libraries are loaded by the first sign-in (oidc_types.py)

    try:
        sent = await oidc.authorization(settings, _redirect_uri(request))
    except OidcError as error:
        async with resources_of(request).pool.acquire() as conn:
            await _audit_failure(request, conn, error, None)
        return _failed(request, settings, error)
    async with resources_of(request).pool.acquire() as conn:
        await identities.start_login(
            conn,
            tokens.digest(sent.state),
            sent.nonce,
            sent.code_verifier,
            site_path(request.query_params.get("next")),
        )
    response = RedirectResponse(sent.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        sent.state,
        max_age=identities.LOGIN_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=sessions.is_tls(request),
    )
    return response


@policy("public", limit="logins", per="address")
async def callback(request: Request) -> Response:
    settings = _settings(request)
    pool = resources_of(request).pool
    identity: Identity | None = None
    try:
        login = await _take_login(request, pool)
        if error := request.query_params.get("error"):
            raise OidcError(
                f"{settings.name} did not sign you in ({error[:100]}): start again",
                f"provider_refused: {error[:100]}",
            )
        code = request.query_params.get("code")
        if not code:
            raise OidcError(START_AGAIN, "no_code")
        from app.auth import oidc  # its libraries are loaded by the first sign-in

        identity = await oidc.identity(
            settings, _redirect_uri(request), code, login["code_verifier"], login["nonce"]
        )
        async with pool.acquire() as conn, conn.transaction():
            user = await _user_for(request, conn, settings, identity)
            await identities.link(
                conn, identity.issuer, identity.subject, user["id"], identity.email
            )
            session_id = await sessions.start(conn, user["id"], resources_of(request).settings.auth)
            await audit(
                request,
                conn,
                "sign_in",
                actor=(user["id"], user["email"]),
                details={"via": "oidc", "issuer": identity.issuer},
            )
    except OidcError as error:
        async with pool.acquire() as conn:
            await _audit_failure(request, conn, error, identity)
        return _failed(request, settings, error)
    response = RedirectResponse(login["next_path"], status_code=303)
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    sessions.set_cookie(
        request, response, session_id, resources_of(request).settings.auth.session_max_seconds
    )
    return response


async def _take_login(request: Request, pool: asyncpg.Pool) -> Any:
    """The sign-in this callback finishes: its state must be this browser's and still open."""
    state = request.query_params.get("state", "")
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise OidcError(START_AGAIN, "state_mismatch")
    async with pool.acquire() as conn:
        login = await identities.take_login(conn, tokens.digest(state))
    if login is None or not login["live"]:
        raise OidcError(START_AGAIN, "state_unknown_or_expired")
    return login


async def _user_for(
    request: Request, conn: asyncpg.Connection, settings: OidcSettings, identity: Identity
) -> Any:
    """The linked user, else the user with this verified email (linked now), else a new one."""
    user = await identities.linked_user(conn, identity.issuer, identity.subject)
    if user is None:
        if identity.email is None or not identity.email_verified:
            raise OidcError(
                f"{settings.name} did not confirm your email address, so this site cannot tell"
                " which account is yours: confirm it there, or ask an admin for an invitation",
                "email_unverified",
                403,
            )
        user = await identities.user_by_email(conn, identity.email)
    if user is not None and user["disabled_at"] is not None:
        raise OidcError("this account is disabled: ask an admin", "user_disabled", 403)
    role = _role(settings, identity)
    if user is None:
        assert identity.email is not None  # checked above
        user_id = await user_sql.create_user(
            conn, identity.email, identities.NO_PASSWORD, role or settings.default_role
        )
        user = await identities.user_by_email(conn, identity.email)
        await audit(
            request,
            conn,
            "sign_up",
            actor=(user_id, identity.email),
            details={"via": "oidc", "role": user["role"]},
        )
    elif role is not None and role != user["role"]:
        # With OIDC_ROLES_CLAIM the provider's groups decide the role at every sign-in.
        await user_sql.set_role(conn, user["id"], role)
        await audit(
            request,
            conn,
            "role_changed",
            actor=(user["id"], user["email"]),
            target=str(user["id"]),
            details={"role": role, "via": "oidc"},
        )
        user = await identities.user_by_email(conn, user["email"])
    return user


def _role(settings: OidcSettings, identity: Identity) -> str | None:
    """The highest role the provider's groups map to (the default role when none maps), or
    None when no roles claim is configured (then roles are managed on this site)."""
    if settings.roles_claim is None:
        return None
    mapped = [role for group, role in settings.role_map if group in identity.groups]
    return max(mapped, key=ROLE_RANK.__getitem__, default=settings.default_role)


async def _audit_failure(
    request: Request, conn: asyncpg.Connection, error: OidcError, identity: Identity | None
) -> None:
    await audit(
        request,
        conn,
        "sign_in_failed",
        actor=(None, identity.email if identity else None),
        details={"via": "oidc", "reason": error.reason},
    )


routes = [
    Route("/api/auth/oidc/start", start, methods=["GET"]),
    Route("/api/auth/oidc/callback", callback, methods=["GET"]),
]
