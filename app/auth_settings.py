"""The auth settings, read with the rest of the configuration (app.config); below app.auth."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.errors import ConfigError

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


@dataclass(frozen=True)
class Limit:
    """`count` requests per `seconds`; count 0 switches the limit off."""

    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}s"


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in with an OpenID Provider (OIDC_*); see app/auth/oidc.py."""

    issuer: str
    client_id: str
    client_secret: str
    name: str = "single sign-on"  # the button says "Sign in with <name>"
    default_role: str = "reader"  # a new user's role when no group maps to one
    roles_claim: str | None = None  # e.g. "groups": then the role follows it at every sign-in
    role_map: tuple[tuple[str, str], ...] = ()  # (group, role) pairs


@dataclass(frozen=True)
class AuthSettings:
    signup: str = "invite"  # "open": anyone may create a reader account
    session_idle_seconds: int = 7 * 86400
    session_max_seconds: int = 30 * 86400
    invitation_seconds: int = 7 * 86400
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES  # "*" allows any Host
    hosts_configured: bool = False  # ALLOWED_HOSTS was set (required outside local mode)
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)  # "*" trusts every peer
    limit_asks: Limit = Limit(30, 60)
    limit_uploads: Limit = Limit(30, 60)
    limit_searches: Limit = Limit(300, 60)
    limit_logins: Limit = Limit(10, 60)
    limit_invitations: Limit = Limit(10, 60)
    # Sign-ins to one account, from any address (beside the per-address RATE_LIMIT_LOGINS).
    limit_account_logins: Limit = Limit(30, 3600)
    password_hashes: int = 2  # Argon2 hashes at once per process (about 64 MiB each)
    password_wait_seconds: float = 10.0  # queued that long for a turn, then 429
    audit_retention_days: int = 365  # audit log rows older than this are deleted
    oidc: OidcSettings | None = None  # OIDC_ISSUER set: "Sign in with ..." on the sign-in page


def parse_limit(value: str) -> Limit:
    """'30/minute', '5/second', '1000/hour', '0/minute' (off)."""
    count, _, period = value.partition("/")
    seconds = PERIODS.get(period.strip().lower().removesuffix("s") or "minute")
    if not count.strip().isdigit() or seconds is None:
        raise ValueError("must look like 30/minute (per second, minute, hour or day)")
    return Limit(int(count), seconds)


def _names(value: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in value.split(",") if n.strip())
    if not names:
        raise ValueError("must be a comma-separated list of host names, or *")
    return names


def _ips(value: str) -> tuple[str, ...]:
    items = tuple(n.strip() for n in value.split(",") if n.strip())
    for item in items:
        if item != "*":
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
    return items


def _signup(value: str) -> str:
    if value.lower() not in ("invite", "open"):
        raise ValueError("must be invite or open")
    return value.lower()


def _minutes(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be a whole number of minutes, at least 1")
    return number * 60


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be a whole number, at least 1")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 3600:
        raise ValueError("must be a number of seconds from 0 to 3600")
    return number


ROLES = ("reader", "editor", "admin")


def _issuer(value: str) -> str:
    """https, or http on loopback only (a provider on the same machine, as in the tests)."""
    parts = urlsplit(value)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback) or not parts.netloc:
        raise ValueError("must be the provider's https:// URL (its discovery document is there)")
    return value.rstrip("/")


def _role(value: str) -> str:
    if value.lower() not in ROLES:
        raise ValueError(f"must be one of {', '.join(ROLES)}")
    return value.lower()


def _role_map(value: str) -> tuple[tuple[str, str], ...]:
    """'rag-admins=admin, staff=editor': groups (in the roles claim) to roles."""
    pairs = []
    for item in value.split(","):
        group, sep, role = item.strip().rpartition("=")
        if not sep or not group.strip():
            raise ValueError("must look like group=role,other-group=role")
        pairs.append((group.strip(), _role(role.strip())))
    return tuple(pairs)


def load_oidc_settings(get: Callable[[str, Callable[[str], Any], Any], Any]) -> OidcSettings | None:
    """OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together, or none of them."""
    issuer = get("OIDC_ISSUER", _issuer, None)
    client_id = get("OIDC_CLIENT_ID", str, None)
    secret = get("OIDC_CLIENT_SECRET", str, None)
    if issuer is None and client_id is None and secret is None:
        return None
    if issuer is None or client_id is None or secret is None:
        raise ConfigError(
            "OpenID Connect sign-in needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"
            " (the client registered at the provider, with the redirect URI"
            " https://<your site>/api/auth/oidc/callback)"
        )
    roles_claim = get("OIDC_ROLES_CLAIM", str, None)
    role_map = get("OIDC_ROLE_MAP", _role_map, ())
    if role_map and roles_claim is None:
        raise ConfigError("OIDC_ROLE_MAP needs OIDC_ROLES_CLAIM (the claim holding the groups)")
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        name=get("OIDC_NAME", str, OidcSettings.name),
        default_role=get("OIDC_DEFAULT_ROLE", _role, OidcSettings.default_role),
        roles_claim=roles_claim,
        role_map=role_map,
    )


def default_hosts(host: str) -> tuple[str, ...]:
    """The host serve binds, and loopback names; a wildcard bind cannot know the site's name."""
    if host in ("0.0.0.0", "::", ""):
        return ("*",)
    return LOOPBACK_NAMES if host in LOOPBACK_NAMES else (host.lower(), *LOOPBACK_NAMES)


def load_auth_settings(
    get: Callable[[str, Callable[[str], Any], Any], Any], host: str
) -> AuthSettings:
    """Read the AUTH settings with app.config's `get` (which names a bad variable)."""
    default = AuthSettings()
    return AuthSettings(
        signup=get("SIGNUP", _signup, default.signup),
        session_idle_seconds=get("SESSION_IDLE_MINUTES", _minutes, default.session_idle_seconds),
        session_max_seconds=get("SESSION_MAX_MINUTES", _minutes, default.session_max_seconds),
        invitation_seconds=get("INVITATION_MINUTES", _minutes, default.invitation_seconds),
        allowed_hosts=get("ALLOWED_HOSTS", _names, None) or default_hosts(host),
        hosts_configured=get("ALLOWED_HOSTS", _names, None) is not None,
        forwarded_allow_ips=get("FORWARDED_ALLOW_IPS", _ips, default.forwarded_allow_ips),
        limit_asks=get("RATE_LIMIT_ASKS", parse_limit, default.limit_asks),
        limit_uploads=get("RATE_LIMIT_UPLOADS", parse_limit, default.limit_uploads),
        limit_searches=get("RATE_LIMIT_SEARCHES", parse_limit, default.limit_searches),
        limit_logins=get("RATE_LIMIT_LOGINS", parse_limit, default.limit_logins),
        limit_invitations=get("RATE_LIMIT_INVITATIONS", parse_limit, default.limit_invitations),
        limit_account_logins=get(
            "RATE_LIMIT_ACCOUNT_LOGINS", parse_limit, default.limit_account_logins
        ),
        password_hashes=get("PASSWORD_HASH_CONCURRENCY", _positive, default.password_hashes),
        password_wait_seconds=get(
            "PASSWORD_HASH_WAIT_SECONDS", _seconds, default.password_wait_seconds
        ),
        audit_retention_days=get("AUDIT_RETENTION_DAYS", _positive, default.audit_retention_days),
        oidc=load_oidc_settings(get),
    )
