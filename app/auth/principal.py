"""Who is calling: a signed-in user (session cookie) or an API key's owner."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass
class Principal:
    user_id: UUID
    email: str
    role: str  # admin | editor | reader
    via: str  # "session" | "key"
    csrf_token: str | None = None  # sessions only
    session_hash: bytes | None = None
    readable: list[int] | None = field(default=None, repr=False)  # filled on first need
    scopes: tuple[str, ...] = ()  # keys only: what else the key may do (app/auth/scopes)

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @property
    def editor(self) -> bool:
        return self.role in ("admin", "editor")
