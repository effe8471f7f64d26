"""The errors access control raises; the app's one handler turns them into responses."""

from app.errors import AppError


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class TooManyRequests(AppError):
    status = 429
    code = "rate_limited"
