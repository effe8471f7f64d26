"""Sign in and out, the first admin, sign-up by invitation (or open sign-up)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.auth import passwords, sessions, tokens
from app.auth.access import principal_of
from app.auth.audit import audit
from app.auth.errors import Forbidden, Unauthorized
from app.auth.policy import policy
from app.auth.setup import setup_token_matches, setup_token_required
from app.db import users as user_sql
from app.errors import BadRequest, NotFound
from app.routes.deps import limit, password_gate, read_json, resources_of
from app.templating import templates

BAD_LOGIN = "the email or password is wrong"
MAX_EMAIL = 254


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _from_form(request: Request) -> bool:
    """A plain HTML form post (it gets pages and redirects); anything else is the JSON API,
    answered in JSON, even without a Content-Type."""
    return request.headers.get("content-type", "").lower().startswith(FORM_TYPES)


async def _fields(request: Request) -> tuple[dict[str, Any], bool]:
    """The request's fields and whether it came from a plain HTML form (then it gets pages)."""
    if not _from_form(request):
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest('send a JSON object such as {"email": ..., "password": ...}')
        return body, False
    async with request.form(max_files=0, max_fields=10) as form:
        return {k: v for k, v in form.items() if isinstance(v, str)}, True


def _email(value: object) -> str:
    if not isinstance(value, str) or "@" not in value.strip() or len(value) > MAX_EMAIL:
        raise BadRequest("give an email address such as ada@example.org", code="bad_email")
    return value.strip()


def site_path(value: object) -> str:
    """Only a path on this site: a login link must not send people elsewhere."""
    if isinstance(value, str) and value.startswith("/") and not urlsplit(value).netloc:
        if not value.startswith("//") and "\\" not in value:
            return value
    return "/"


def _user(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "email": row["email"], "role": row["role"]}


async def _signed_in(
    request: Request, user: Any, as_form: bool, next_url: str = "/", action: str = "sign_in"
) -> Response:
    resources = resources_of(request)
    settings = resources.settings.auth
    async with resources.pool.acquire() as conn:
        session_id = await sessions.start(conn, user["id"], settings)
        await audit(request, conn, action, actor=(user["id"], user["email"]))
    response: Response = (
        RedirectResponse(next_url, status_code=303)
        if as_form
        else JSONResponse({"user": _user(user)})
    )
    sessions.set_cookie(request, response, session_id, settings.session_max_seconds)
    return response


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


async def _has_users(request: Request) -> bool:
    async with resources_of(request).pool.acquire() as conn:
        return await user_sql.any_user(conn)


@policy("public")
async def login_page(request: Request) -> Response:
    if not await _has_users(request):
        return RedirectResponse("/setup", status_code=303)
    return _page(
        request,
        "login.html",
        next=site_path(request.query_params.get("next")),
        signup_open=resources_of(request).settings.auth.signup == "open",
        oidc_name=oidc.name if (oidc := resources_of(request).settings.auth.oidc) else None,
    )


@policy("public", csrf="origin", limit="logins", per="address")
async def login(request: Request) -> Response:
    data, as_form = await _fields(request)
    email, password = data.get("email"), data.get("password")
    next_url = site_path(data.get("next"))
    row = None
    if isinstance(email, str) and isinstance(password, str):
        # Per account, from any address: a spread-out guesser is slowed down too.
        await limit(request, "account_logins", email.strip().lower()[:MAX_EMAIL])
        async with resources_of(request).pool.acquire() as conn:
            row = await user_sql.by_email(conn, email.strip())
    # Always one Argon2 verification, so a wrong email answers as slowly as a wrong password.
    ok = await password_gate(request).verify(
        row["password_hash"] if row else None,
        password if isinstance(password, str) else "",
    )
    if ok and row["disabled_at"] is not None:
        raise Forbidden("this account is disabled: ask an admin", code="user_disabled")
    if not ok:
        async with resources_of(request).pool.acquire() as conn:
            tried = email.strip()[:MAX_EMAIL] if isinstance(email, str) else None
            await audit(request, conn, "sign_in_failed", actor=(None, tried))
        if as_form:
            return _page(request, "login.html", 401, error=BAD_LOGIN, email=email, next=next_url)
        raise Unauthorized(BAD_LOGIN, code="invalid_credentials")
    return await _signed_in(request, row, as_form, next_url)


@policy("public")
async def logout(request: Request) -> Response:
    """Ends every session of the user: signing out on one device signs out all of them."""
    principal = request.scope["state"].get("principal")
    if principal is not None and principal.via == "session":
        async with resources_of(request).pool.acquire() as conn:
            await user_sql.end_sessions(conn, principal.user_id)
            await audit(request, conn, "sign_out")
    as_form = _from_form(request)
    response: Response = (
        RedirectResponse("/login", status_code=303) if as_form else JSONResponse({"ok": True})
    )
    sessions.clear_cookie(request, response)
    return response


@policy("public")
async def setup_page(request: Request) -> Response:
    if await _has_users(request):
        return RedirectResponse("/login", status_code=303)
    async with resources_of(request).pool.acquire() as conn:
        needs_token = await setup_token_required(conn) is not None
    return _page(request, "setup.html", needs_token=needs_token)


@policy("public", csrf="origin", limit="logins", per="address")
async def setup(request: Request) -> Response:
    """The first account, an admin; refused once any user exists."""
    data, as_form = await _fields(request)
    # Checked before the (deliberately slow) hash: once set up, this public route costs
    # a stranger's request one query, not an Argon2 hash.
    if await _has_users(request):
        raise Forbidden("the site already has an admin: sign in", code="already_set_up")
    async with resources_of(request).pool.acquire() as conn:
        required = await setup_token_required(conn)
    if required is not None and not setup_token_matches(required, data.get("setup_token")):
        raise Forbidden(
            "give the one-time setup token printed in the web server's log "
            "(`python -m app users setup-token` prints a new one)",
            code="bad_setup_token",
        )
    email = _email(data.get("email"))
    password = passwords.check_new(data.get("password"))
    password_hash = await password_gate(request).hash(password)
    async with resources_of(request).pool.acquire() as conn, conn.transaction():
        # Two first visitors at once: the lock makes the second see the first's admin.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('first admin'))")
        if await user_sql.any_user(conn):
            raise Forbidden("the site already has an admin: sign in", code="already_set_up")
        user_id = await user_sql.create_user(conn, email, password_hash, "admin")
        user = await user_sql.by_id(conn, user_id)
        await conn.execute("DELETE FROM setup_token")  # used: one time only
    return await _signed_in(request, user, as_form, action="setup")


@policy("public", secrets=("token",))
async def invite_page(request: Request) -> Response:
    token = request.path_params["token"]
    async with resources_of(request).pool.acquire() as conn:
        invitation = await user_sql.open_invitation(conn, tokens.digest(token))
    if invitation is None:
        raise NotFound("this invitation link is not valid: it was used, has expired or is wrong")
    return _page(request, "invite.html", token=token, invitation=invitation)


@policy("public", csrf="origin", limit="invitations", per="address")
async def signup(request: Request) -> Response:
    """A new account from an invitation token, or a reader when SIGNUP=open."""
    data, as_form = await _fields(request)
    email = _email(data.get("email"))
    password = passwords.check_new(data.get("password"))
    token = data.get("token")
    resources = resources_of(request)
    token_hash = tokens.digest(token) if isinstance(token, str) and token else None
    # Every cheap check before the (deliberately costly) hash; repeated in the transaction.
    async with resources.pool.acquire() as conn:
        await _invitation_for(conn, token_hash, email, resources.settings.auth.signup)
    password_hash = await password_gate(request).hash(password)
    async with resources.pool.acquire() as conn, conn.transaction():
        invitation = await _invitation_for(conn, token_hash, email, resources.settings.auth.signup)
        role = invitation["role"] if invitation else "reader"
        user_id = await user_sql.create_user(conn, email, password_hash, role)
        if token_hash is not None and not await user_sql.use_invitation(conn, token_hash, user_id):
            raise NotFound("this invitation was just used", code="bad_invitation")
        user = await user_sql.by_id(conn, user_id)
    return await _signed_in(request, user, as_form, action="sign_up")


async def _invitation_for(
    conn: Any, token_hash: bytes | None, email: str, signup_mode: str
) -> Any | None:
    """The open invitation this sign-up uses (None: open sign-up); 404/403 when refused."""
    if token_hash is None:
        if signup_mode != "open":
            raise Forbidden("sign-up is by invitation: ask an admin for a link")
        return None
    invitation = await user_sql.open_invitation(conn, token_hash)
    if invitation is None:
        raise NotFound(
            "this invitation is not valid: it was used, has expired or is wrong",
            code="bad_invitation",
        )
    if invitation["email"] and invitation["email"].lower() != email.lower():
        raise Forbidden("this invitation is for another email address")
    return invitation


@policy("reader")
async def me(request: Request) -> JSONResponse:
    principal = principal_of(request)
    return JSONResponse(
        {
            "user": {
                "id": str(principal.user_id),
                "email": principal.email,
                "role": principal.role,
            },
            "via": principal.via,
        }
    )


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/setup", setup_page, methods=["GET"]),
    Route("/invite/{token}", invite_page, methods=["GET"]),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/auth/setup", setup, methods=["POST"]),
    Route("/api/auth/signup", signup, methods=["POST"]),
    Route("/api/auth/me", me, methods=["GET"]),
]
