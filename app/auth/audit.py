"""Record security events in the audit log (app/db/audit.py), with who, from where, when.

Called by the handlers where the event happens, on their connection (so an event is recorded
with the change it describes, in its transaction, or not at all). Events older than
AUDIT_RETENTION_DAYS are pruned by whichever process records one first each hour.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import UUID

import asyncpg
from starlette.requests import HTTPConnection

from app.db import audit as audit_sql

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0
_pruned_at = [0.0]


async def audit(
    request: HTTPConnection,
    conn: asyncpg.Connection,
    action: str,
    *,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    actor: tuple[UUID | None, str | None] | None = None,
) -> None:
    """Append one event; the actor is the caller unless given (a sign-in names its user)."""
    principal = request.scope.get("state", {}).get("principal")
    if actor is None:
        actor = (principal.user_id, principal.email) if principal else (None, None)
    if principal is not None and principal.via == "key":
        details = {**(details or {}), "via": "api_key"}
    client = request.client
    await audit_sql.record(
        conn,
        action,
        actor_id=actor[0],
        actor_email=actor[1],
        address=client.host if client else None,
        user_agent=request.headers.get("user-agent"),
        target=target,
        details=details,
    )
    if time.monotonic() - _pruned_at[0] > PRUNE_EVERY_SECONDS:
        _pruned_at[0] = time.monotonic()
        settings = request.scope["state"]["resources"].settings.auth
        try:
            await audit_sql.prune(conn, settings.audit_retention_days)
        except asyncpg.PostgresError as exc:  # pruning must never fail the request
            log.warning("audit log retention sweep failed: %r", exc)
