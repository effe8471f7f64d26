"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import BadRequest

MIN_LENGTH = 8
MAX_LENGTH = 1024  # hashing a megabyte "password" is a cheap way to burn our CPU

_hasher = PasswordHasher()
# Compared against when the email is unknown, so both cases take the same time.
_DUMMY = _hasher.hash("not a password of anyone")


def check_new(password: object) -> str:
    """A new password, or 400 saying what is wrong with it."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise BadRequest(
            f"the password must be at least {MIN_LENGTH} characters", code="weak_password"
        )
    if len(password) > MAX_LENGTH:
        raise BadRequest(f"the password is longer than {MAX_LENGTH} characters")
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
