"""The answer protocol shared by the three transports (SSE, WebSocket, /v1): event names,
the keep-alive interval, and how a request's question, conversation and scope are read.

Events, in order: meta, sources, token (many), then done or error. Each is a (name, data)
pair; data is a JSON-ready dict that every transport sends as it is.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from app.db import collections as collection_sql
from app.db import unavailable
from app.errors import AppError, BadRequest, NotFound
from app.infra import metrics
from app.rag.retriever import EVERYTHING, Scope

log = logging.getLogger(__name__)

# The error that ends an answer cut before `done` (Stop, a dropped connection, a restart, a
# worker that died): the UI shows what arrived and offers retry.
INTERRUPTED = {
    "code": "interrupted",
    "message": "The answer was interrupted before it was finished (the connection closed or "
    "the server restarted); what arrived is kept: retry to ask again.",
}

META = "meta"
SOURCES = "sources"
TOKEN = "token"
DONE = "done"
ERROR = "error"

Event = tuple[str, dict[str, Any]]

# A quiet stream sends a keep-alive this often: proxies close connections idle for long
# (Nginx after 60 s, Heroku's router after 55 s), and a model may think for longer.
PING_SECONDS = 15.0
MAX_QUESTION_CHARS = 4000
# /v1 model names: "rag" searches everything, "rag:<collection>" one collection.
MODEL = "rag"
MODEL_PREFIX = MODEL + ":"


def check_question(question: object) -> str:
    """The question without surrounding space; 400 when it is empty or too long."""
    if not isinstance(question, str) or not question.strip():
        raise BadRequest("the question is empty: type a question", code="empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return question.strip()


def parse_ask(data: Any) -> tuple[str, UUID | None]:
    """Validate a question request: {"question": str, "conversation_id": optional id}."""
    if not isinstance(data, dict):
        raise BadRequest('send a JSON object such as {"question": "What is ...?"}')
    question = check_question(data.get("question"))
    raw_id = data.get("conversation_id")
    if raw_id is None:
        return question, None
    try:
        return question, UUID(str(raw_id))
    except ValueError:
        raise NotFound(
            f"there is no conversation {raw_id!r}", code="unknown_conversation"
        ) from None


def parse_chat(data: Any) -> tuple[str, UUID | None, Scope]:
    """(question, conversation id, scope) of an ask as SSE's POST and WebSocket send it:
    {"question", "conversation_id"?, "collection"?, "document_ids"?}."""
    question, conversation_id = parse_ask(data)
    return question, conversation_id, parse_scope(data.get("collection"), data.get("document_ids"))


def is_collection(value: str) -> bool:
    """A collection's name, or "id:N" (names are unique per owner only)."""
    return bool(collection_sql.NAME.fullmatch(value) or collection_sql.REFERENCE.fullmatch(value))


def parse_scope(collection: object = None, document_ids: object = None) -> Scope:
    """What a question is limited to: a collection name and/or a list of document ids."""
    if collection is not None and not (isinstance(collection, str) and is_collection(collection)):
        raise BadRequest(
            f"{collection!r} is not a collection name: use {collection_sql.NAME_RULE}",
            code="bad_collection",
        )
    if document_ids is None:
        return Scope(collection or None)
    if not isinstance(document_ids, list) or not all(isinstance(i, str) for i in document_ids):
        raise BadRequest("document_ids must be a list of document ids", code="bad_documents")
    try:
        return Scope(collection or None, tuple(UUID(i) for i in document_ids))
    except ValueError:
        raise BadRequest(
            f"document_ids holds something that is not a document id: {document_ids!r}",
            code="bad_documents",
        ) from None


def parse_model(model: object) -> Scope:
    """The scope a /v1 model name selects; 404 model_not_found when it names none."""
    if model == MODEL:
        return EVERYTHING
    if isinstance(model, str) and model.startswith(MODEL_PREFIX):
        collection = model.removeprefix(MODEL_PREFIX)
        if is_collection(collection):
            return Scope(collection)
    raise unknown_model(model)


def unknown_model(model: object) -> NotFound:
    return NotFound(
        f"there is no model {model!r}: use {MODEL!r} for every document or "
        f"'{MODEL_PREFIX}<collection>' for one collection (GET /v1/models lists them)",
        code="model_not_found",
    )


def model_names(collections: list[str]) -> list[str]:
    """The /v1 models: `rag` (everything), and `rag:<name>` for each collection."""
    return [MODEL, *(MODEL_PREFIX + name for name in collections)]


def error_data(exc: AppError) -> dict[str, Any]:
    """An `error` event's data; `retry_after` (seconds) when trying again later will do."""
    data: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.retry_after is not None:
        data["retry_after"] = exc.retry_after
    return data


def error_event(exc: Exception) -> Event:
    """The `error` event a failed answer ends with; unexpected errors are logged."""
    if isinstance(exc, AppError):
        return ERROR, error_data(exc)
    if unavailable.is_unavailable(exc):  # e.g. lost while the answer was being stored
        log.warning("database unavailable while answering: %r", exc)
        metrics.DB_UNAVAILABLE.inc()
        return ERROR, {"code": "database_unavailable", "message": unavailable.MESSAGE}
    log.error("answering failed", exc_info=exc)
    return (
        ERROR,
        {
            "code": "internal_error",
            "message": "Answering failed on the server; try again, and check the server log "
            "if it keeps failing.",
        },
    )
