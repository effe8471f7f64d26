"""One small error hierarchy: each error carries an HTTP status, a code and a message for people."""

from __future__ import annotations


class AppError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class NotFound(AppError):
    status = 404
    code = "not_found"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(AppError):
    status = 422
    code = "unprocessable"


class ServiceUnavailable(AppError):
    status = 503
    code = "unavailable"
