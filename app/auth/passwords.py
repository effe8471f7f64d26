"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

Each hash or verification takes about 64 MiB and tens of milliseconds of CPU, so a stranger's
sign-ups and sign-ins must not start them at will: routes do every cheap check first, then go
through a HashGate, which runs at most PASSWORD_HASH_CONCURRENCY of them at once per process
and answers 429 to a caller that waited PASSWORD_HASH_WAIT_SECONDS for a turn.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import BadRequest
from app.infra.bounded import Bounded

MIN_LENGTH = 12
MIN_DISTINCT = 5  # "aaaaaaaaaaaa" and "abababababab" are long but guessed at once
MAX_LENGTH = 1024  # hashing a megabyte "password" is a cheap way to burn our CPU
COMMON_FILE = Path(__file__).with_name("common_passwords.txt")

_hasher = PasswordHasher()
# Compared against when the email is unknown, so both cases take the same time.
_DUMMY = _hasher.hash("not a password of anyone")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords attackers try first (lower case)."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and line[0] != "#")


def check_new(password: object) -> str:
    """A new password, or 400 saying what is wrong with it."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise BadRequest(
            f"the password must be at least {MIN_LENGTH} characters", code="weak_password"
        )
    if len(password) > MAX_LENGTH:
        raise BadRequest(f"the password is longer than {MAX_LENGTH} characters")
    if len(set(password)) < MIN_DISTINCT:
        raise BadRequest(
            f"the password must use at least {MIN_DISTINCT} different characters",
            code="weak_password",
        )
    if password.lower() in common_passwords():
        raise BadRequest(
            "this password is in the list of common passwords attackers try first: "
            "choose another (a few unrelated words make a good one)",
            code="weak_password",
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True when the password matches; an unknown user (None) costs the same time."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class HashGate(Bounded):
    """The process's bound on concurrent Argon2 work (PASSWORD_HASH_CONCURRENCY)."""

    def __init__(self, concurrency: int, wait_seconds: float) -> None:
        busy = "the server is busy checking other passwords: try again in a few seconds"
        super().__init__(concurrency, wait_seconds, busy)

    async def hash(self, password: str) -> str:
        return await self.run(hash_password, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self.run(verify, password_hash, password)
