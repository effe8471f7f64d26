"""The one error hierarchy: each error carries an HTTP status, a code and a message for people.

Every failure the app expects (a bad request, a bad setting, a database to migrate, a document
that cannot be read, a model server that is down) is an AppError. The HTTP handler answers
with its status and code; the command line prints its message on one line and exits 1.
Anything else is a bug: logged with its traceback.
"""

from __future__ import annotations

import errno


class AppError(Exception):
    status = 500
    code = "internal_error"
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


# Requests: what the caller sent is wrong (raised by routes and the answer service).


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Gone(AppError):
    """What was named existed once and is no longer there as it was (a cited passage that
    changed since its answer)."""

    status = 410
    code = "gone"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(AppError):
    status = 422
    code = "unprocessable"


class Conflict(AppError):
    """The request is fine but the state of what it names is not (e.g. a collection that still
    holds documents); the message says what to do first."""

    status = 409
    code = "conflict"


# The errno of a write that found no space: a full filesystem, or the user's quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class InsufficientStorage(AppError):
    """The server's disk (the upload spool) or the database's is full: nothing was kept."""

    status = 507
    code = "insufficient_storage"


class ServiceUnavailable(AppError):
    status = 503
    code = "unavailable"


class Overloaded(ServiceUnavailable):
    """More work than the process can take now (the ask queue is full, or every database
    connection stayed busy): nothing was done or stored; worth a retry after `retry_after`."""

    code = "overloaded"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message or f"the site is busy: try again in {retry_after} seconds")
        self.retry_after = retry_after


# Setup: the app cannot run as configured; the message says what to change.


class ConfigError(AppError):
    """A setting has a value the app cannot run with; the message names the variable."""

    code = "config_error"


class DatabaseSetupError(AppError):
    """The database cannot hold or does not yet hold our schema; the message says what to do."""

    status = 503
    code = "database_setup"


class DatabaseUnavailable(DatabaseSetupError):
    """The server at DATABASE_URL cannot be reached or refuses us."""

    code = "database_unavailable"


class SchemaBehind(DatabaseSetupError):
    """Migrations are pending: `python -m app migrate` has not run."""

    code = "schema_behind"


class ModelMismatch(DatabaseSetupError):
    """The configured embedding model is not the one the stored vectors came from."""

    code = "embedding_model_mismatch"


# Services the app calls: worth another try later.


class EmbeddingUnavailable(AppError):
    """The embedding service failed; the worker retries the job later."""

    status = 503
    code = "embedding_unavailable"


class LLMError(AppError):
    """The model server failed; the message says what to check. Streams turn it into `error`."""

    status = 502
    code = "upstream_error"


# Ingestion: the document (file or URL) cannot be ingested as it is; retrying will not help.
# The worker fails the document with the message; at upload time the status answers at once.


class IngestError(AppError):
    """The document cannot be ingested as it is; retrying will not help."""

    status = 422
    code = "unprocessable"


class EmptyDocument(IngestError):
    status = 400
    code = "empty_file"


class UnsupportedDocument(IngestError):
    status = 415
    code = "unsupported_media_type"


class DocumentTooLarge(IngestError):
    status = 413
    code = "payload_too_large"


class BadURL(IngestError):
    status = 400
    code = "bad_url"


class RefusedURL(BadURL):
    """The URL points at an address we must not reach (loopback, private, link-local...)."""

    code = "url_refused"
