"""GET /openapi.json: the JSON API described as OpenAPI 3.1, for client generators and fuzzers.

The document is data, written by hand next to the handlers it describes: the limits below are
the handlers' own constants, and tests/routes/test_openapi.py fails when a route of the JSON API
is missing here (or described but gone). It is public, like /healthz: it holds nothing a caller
could not read in the README, and generators fetch it without a key.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import sources
from app.auth.passwords import MAX_LENGTH as MAX_PASSWORD
from app.auth.passwords import MIN_LENGTH as MIN_PASSWORD
from app.auth.policy import policy
from app.db import audit as audit_sql
from app.db import sources as db_sources
from app.db.collections import NAME, REFERENCE
from app.db.users import ROLES
from app.llm.base import LENGTHS
from app.rag import assistant as assistants
from app.rag.protocol import MAX_QUESTION_CHARS
from app.routes import (
    conversations,
    documents,
    exports,
    feedback,
    openai_api,
    passages,
    search,
    shares,
    usage,
)
from app.routes import sources as routes_sources
from app.routes.account import KEY_SCOPES, MAX_KEY_DAYS
from app.routes.auth import MAX_EMAIL

Schema = dict[str, Any]

JSON = "application/json"
UUID: Schema = {"type": "string", "format": "uuid"}
TEXT: Schema = {"type": "string"}
NONEMPTY: Schema = {"type": "string", "pattern": r"\S"}  # the handlers strip, then refuse ""
WHEN: Schema = {"type": ["string", "null"], "format": "date-time"}
# A name, or "id:N" where several readable collections share the name.
COLLECTION: Schema = {"type": "string", "pattern": f"{NAME.pattern}|{REFERENCE.pattern}"}
EMAIL: Schema = {"type": "string", "pattern": "@", "maxLength": MAX_EMAIL}
PASSWORD: Schema = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}
# In OpenAPI 3.1 an event stream's schema describes each event; `data` is JSON text.
SSE_EVENT: Schema = {
    "type": "object",
    "required": ["data"],
    "properties": {"event": TEXT, "data": TEXT, "id": TEXT, "retry": {"type": "integer"}},
}
EVENT_STREAM = {"text/event-stream": {"schema": SSE_EVENT}}

REASONS = {
    400: "Bad request: the message says what to change",
    401: "No valid API key or session",
    403: "Not allowed (role, Origin, CSRF token)",
    404: "Not found, or not readable by the caller",
    409: "Conflict: the message says what to do first",
    410: "Gone: what was named is no longer as it was (a cited passage changed)",
    413: "The body is too large",
    415: "Unsupported media type",
    416: "The range cannot be satisfied",
    422: "The document cannot be ingested as it is, or a setting is out of bounds",
    502: "The language model server failed: the message says what to check",
    429: "Rate limited: see Retry-After",
    503: "The database is unavailable: see Retry-After",
}


def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def body(schema: Schema, required: bool = True) -> Schema:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def ok(schema: Schema | None, status: int = 200, description: str = "OK") -> dict[int, Schema]:
    answer: Schema = {"description": description}
    if schema is not None:
        answer["content"] = {JSON: {"schema": schema}}
    return {status: answer}


def query(name: str, schema: Schema, description: str = "", **extra: Any) -> Schema:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def path(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def op(
    summary: str,
    responses: dict[int, Schema],
    errors: tuple[int, ...] = (),
    *,
    public: bool = False,
    **extra: Any,
) -> Schema:
    """An operation: its own answers, then the errors it may give, all as the Error shape.

    Every operation may answer 400 (a Host outside ALLOWED_HOSTS) and 503; guarded ones 401."""
    codes = {400, 503, *errors} | (set() if public else {401})
    answers = {str(status): answer for status, answer in responses.items()}
    for status in sorted(codes - set(responses)):
        answers[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    operation = {"summary": summary, "responses": answers, **extra}
    if public:
        operation["security"] = []
    return operation


ASSISTANT = obj(
    instructions={"type": ["string", "null"], "maxLength": assistants.MAX_INSTRUCTIONS},
    length={"enum": [*LENGTHS, None]},
    passages={
        "type": ["integer", "null"],
        "minimum": assistants.MIN_PASSAGES,
        "maximum": assistants.MAX_PASSAGES,
    },
    rerank={"type": ["boolean", "null"]},
    model={
        "type": ["string", "null"],
        "maxLength": assistants.MAX_MODEL_CHARS,
        "description": "one the provider lists (GET: models)",
    },
)
ASSISTANT_VIEW = obj(
    ("collection", "assistant", "provider", "models"),
    collection=TEXT,
    assistant=ASSISTANT,
    provider={"enum": ["openai", "extractive"]},
    default_model={"type": ["string", "null"]},
    models=array(TEXT),
    models_error={"type": ["string", "null"]},
    reranker={"type": "boolean"},
    lengths=array(TEXT),
    limits={"type": "object"},
)
DOCUMENT = obj(
    ("id", "title", "source", "status"),
    id=UUID,
    title=TEXT,
    source=TEXT,
    media_type=TEXT,
    status={"enum": list(documents.STATUSES)},
    error={"type": ["string", "null"]},
    chunk_count={"type": ["integer", "null"]},
    collection={"type": ["string", "null"]},
    created_at=WHEN,
    updated_at=WHEN,
)
MESSAGE = obj(
    ("id", "role", "content", "status"),
    id=UUID,
    role={"enum": ["user", "assistant"]},
    content=TEXT,
    # interrupted: an answer cut before it finished; content is what was streamed
    status={"enum": ["complete", "interrupted"]},
    sources=array({"type": "object"}),
    # the numbers n of sources whose passage changed or vanished since the answer
    changed_sources=array({"type": "integer"}),
    html={"type": ["string", "null"]},
    rating={"enum": [1, -1, None]},
    created_at=WHEN,
)
CONVERSATION = obj(
    ("id", "title", "created_at", "updated_at"),
    id=UUID,
    title=TEXT,
    created_at=WHEN,
    updated_at=WHEN,
    message_count={"type": "integer"},
    messages=array(MESSAGE),  # GET /api/conversations/{id} only
)
USER = obj(("id", "email", "role"), id=UUID, email=TEXT, role={"enum": list(ROLES)})
KEY = obj(
    ("prefix", "name"),
    prefix=TEXT,
    name=TEXT,
    created_at=WHEN,
    expires_at=WHEN,
    last_used_at=WHEN,
    revoked_at=WHEN,
    scopes=array({"enum": list(KEY_SCOPES)}),
)
NULLABLE_TEXT: Schema = {"type": ["string", "null"]}
NULLABLE_ID: Schema = {"type": ["integer", "null"]}
AUDIT_EVENT = obj(
    ("id", "at", "action", "actor", "address", "target", "details"),
    id={"type": "integer"},
    at={"type": "string", "format": "date-time"},
    action={"enum": list(audit_sql.ACTIONS)},
    actor_id={"type": ["string", "null"], "format": "uuid"},
    actor=NULLABLE_TEXT,
    address=NULLABLE_TEXT,
    user_agent=NULLABLE_TEXT,
    target=NULLABLE_TEXT,
    details={"type": "object"},
)
TEXT_PART = obj(("type",), type={"const": "text"}, text=TEXT)
MESSAGE = obj(
    ("role", "content"),
    role={"enum": ["system", "user", "assistant", "developer", "tool"]},
    content={"anyOf": [TEXT, array(TEXT_PART)]},
)
CREDENTIALS = obj(("email", "password"), email=EMAIL, password=PASSWORD)
SIGNED_IN = ok(obj(("user",), user=USER), description="Signed in: sets the session cookie")
ANSWER_STREAM = {
    "200": {
        "description": "Server-Sent Events: meta, sources, token..., then done or error",
        "content": EVENT_STREAM,
    }
}
UUID_ID = [path("id", UUID)]
COLLECTION_PATH = [path("name", COLLECTION)]

SOURCE = obj(
    ("id", "name", "kind", "collection"),
    id={"type": "integer"},
    name=TEXT,
    kind=TEXT,
    collection=TEXT,
    settings={"type": "object"},
    every_minutes={"type": ["integer", "null"]},
    paused={"type": "boolean"},
    last_sync_at=WHEN,
    next_sync_at=WHEN,
    last_error={"type": ["string", "null"]},
    last_counts={"type": ["object", "null"]},
    document_count={"type": "integer"},
    sync_status={"type": ["string", "null"]},
    created_at=WHEN,
)

PATHS: dict[str, dict[str, Schema]] = {
    "/healthz": {"get": op("Liveness", ok(obj(("status",), status={"const": "ok"})), public=True)},
    "/readyz": {
        "get": op(
            "Readiness: database reachable, migrations applied, worker running",
            {
                **ok(obj(("status",), status={"const": "ready"})),
                503: {
                    "description": "Not ready: says what is missing",
                    "content": {JSON: {"schema": obj(("status",), status=TEXT)}},
                },
            },
            public=True,
        )
    },
    "/openapi.json": {"get": op("This document", ok({"type": "object"}), public=True)},
    "/api/collections": {
        "get": op(
            "Collections the caller may read, with document counts",
            ok(
                obj(
                    ("collections",),
                    collections=array(
                        obj(
                            ("id", "name"),
                            id={"type": "integer"},
                            name=TEXT,
                            mine={"type": "boolean"},
                            document_count={"type": "integer"},
                            can_delete={"type": "boolean"},
                            can_configure={"type": "boolean"},
                        )
                    ),
                )
            ),
        ),
        "post": op(
            "Create a collection, private to the caller (editors and admins)",
            ok(obj(("collection",), collection=obj(("name",), name=TEXT)), 201),
            (403, 404, 413),
            requestBody=body(obj(("name",), name=COLLECTION)),
        ),
    },
    "/api/collections/{name}": {
        "delete": op(
            "Delete a collection (its owner or an admin); one holding documents only with "
            "?delete_documents=true, which deletes them with it",
            ok(None, 204, "Deleted"),
            (403, 404, 409),
            parameters=[
                *COLLECTION_PATH,
                query(
                    "delete_documents",
                    {"enum": ["true", "false"]},
                    "Delete the collection's documents with it (say so after the person confirms)",
                ),
            ],
        )
    },
    "/api/collections/{name}/assistant": {
        "get": op(
            "The collection's assistant settings, with the models the provider lists (its "
            "owner or an admin)",
            ok(ASSISTANT_VIEW),
            (403, 404),
            parameters=COLLECTION_PATH,
        ),
        "put": op(
            "Replace the collection's assistant settings; a field left out or null is the "
            "site's default (its owner or an admin)",
            ok(ASSISTANT_VIEW),
            (403, 404, 413, 422, 502),
            parameters=COLLECTION_PATH,
            requestBody=body(ASSISTANT),
        ),
    },
    "/api/documents": {
        "post": op(
            "Add a document: a multipart file, or JSON {url} fetched at once",
            {
                **ok(
                    obj(
                        ("document",),
                        document=DOCUMENT,
                        duplicate={"type": "boolean"},
                        replaced={"type": "boolean"},
                    ),
                    202,
                ),
                **ok(obj(("document",), document=DOCUMENT), 200, "Already in the collection"),
            },
            (403, 404, 409, 413, 415, 422),
            requestBody={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": obj(
                            ("file",),
                            file={"type": "string", "contentMediaType": "application/octet-stream"},
                            collection=COLLECTION,
                            replace={
                                "enum": ["true", "false"],
                                "description": "replace the collection's document of the same"
                                " file name, down to the chunk (none: a plain upload)",
                            },
                        )
                    },
                    JSON: {
                        "schema": obj(
                            ("url",),
                            url={"type": "string", "pattern": r"\S", "maxLength": 2048},
                            collection=COLLECTION,
                        )
                    },
                },
            },
        ),
        "get": op(
            "Documents, newest first, with counts per status",
            ok(obj(("documents", "counts"), documents=array(DOCUMENT), counts={"type": "object"})),
            (404, 409),
            parameters=[
                query("collection", COLLECTION),
                query("status", {"enum": list(documents.STATUSES)}),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 500}),
                query("offset", {"type": "integer", "minimum": 0, "default": 0}),
                query("uploaded_as", TEXT, "only documents uploaded under this exact file name"),
            ],
        ),
    },
    "/api/documents/events": {
        "get": op(
            "Server-Sent Events: listening, then status and progress of every document (endless)",
            {200: {"description": "An endless event stream", "content": EVENT_STREAM}},
        )
    },
    "/api/documents/{id}": {
        "get": op(
            "One document", ok(obj(("document",), document=DOCUMENT)), (404,), parameters=UUID_ID
        ),
        "delete": op(
            "Delete a document and its chunks",
            ok(None, 204, "Deleted"),
            (403, 404),
            parameters=UUID_ID,
        ),
    },
    "/api/documents/{id}/file": {
        "get": op(
            "The stored original (Range: one byte range)",
            {
                200: {"description": "The file", "content": {"*/*": {"schema": TEXT}}},
                206: {"description": "The range", "content": {"*/*": {"schema": TEXT}}},
            },
            (404, 416),
            parameters=[*UUID_ID, {"name": "Range", "in": "header", "schema": TEXT}],
        )
    },
    "/api/search": {
        "get": op(
            "Hybrid search over the passages the caller may read",
            ok(obj(("results",), results=array({"type": "object"}))),
            (404, 409, 429),
            parameters=[
                query("q", {**NONEMPTY, "maxLength": search.MAX_QUERY_CHARS}, required=True),
                query("k", {"type": "integer", "minimum": 1, "maximum": search.MAX_K}),
                query("collection", COLLECTION),
                query("document_id", array(UUID), explode=True),
                query("cache", {"enum": ["on", "off"]}, "off skips the search cache"),
            ],
        )
    },
    "/api/chat": {
        "post": op(
            "Ask: the answer as Server-Sent Events",
            ANSWER_STREAM,
            (404, 409, 413, 429),
            requestBody=body(
                obj(
                    ("question",),
                    question={**NONEMPTY, "maxLength": MAX_QUESTION_CHARS},
                    conversation_id={"anyOf": [UUID, {"type": "null"}]},
                    collection={"anyOf": [COLLECTION, {"type": "null"}]},
                    document_ids=array(UUID),
                )
            ),
        ),
        "get": op(
            "Ask, for EventSource: the answer as Server-Sent Events",
            ANSWER_STREAM,
            (404, 409, 429),
            parameters=[
                query("question", {**NONEMPTY, "maxLength": MAX_QUESTION_CHARS}, required=True),
                query("conversation_id", UUID),
                query("collection", COLLECTION),
                query("document_id", array(UUID), explode=True),
            ],
        ),
    },
    "/api/conversations": {
        "get": op(
            "The caller's conversations, latest first",
            ok(obj(("conversations",), conversations=array(CONVERSATION))),
            parameters=[
                query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": conversations.MAX_LIMIT},
                ),
                query("q", TEXT, "keeps titles containing it"),
            ],
        )
    },
    "/api/conversations/{id}": {
        "get": op(
            "One conversation and its messages",
            ok(obj(("conversation",), conversation=CONVERSATION)),
            (404,),
            parameters=UUID_ID,
        ),
        "delete": op("Delete a conversation", ok(None, 204, "Deleted"), (404,), parameters=UUID_ID),
        "patch": op(
            "Rename a conversation",
            ok(obj(("conversation",), conversation=CONVERSATION)),
            (404, 413),
            parameters=UUID_ID,
            requestBody=body(obj(("title",), title=NONEMPTY)),
        ),
    },
    "/api/conversations/{id}/share": {
        "get": op(
            "The conversation's live share links (their addresses are shown only once)",
            ok(
                obj(
                    ("links",),
                    links=array(
                        obj(
                            ("public", "created_at", "expires_at"),
                            public={"type": "boolean"},
                            created_at=WHEN,
                            expires_at=WHEN,
                        )
                    ),
                )
            ),
            (404,),
            parameters=UUID_ID,
        ),
        "post": op(
            "A read-only link to a snapshot of the conversation as it is now",
            ok(
                obj(
                    ("url", "public", "created_at", "expires_at"),
                    url=TEXT,
                    public={"type": "boolean"},
                    created_at=WHEN,
                    expires_at=WHEN,
                ),
                201,
                "Created",
            ),
            (403, 404, 413),
            parameters=UUID_ID,
            requestBody=body(
                obj(
                    expires_in_days={
                        "type": "integer",
                        "minimum": 1,
                        "maximum": shares.MAX_SHARE_DAYS,
                    },
                    public={"type": "boolean"},
                ),
                required=False,
            ),
        ),
        "delete": op(
            "Revoke every share link of the conversation",
            ok(None, 204, "Revoked"),
            (404,),
            parameters=UUID_ID,
        ),
    },
    "/api/conversations/{id}/export": {
        "get": op(
            "The conversation as Markdown (citations as footnotes) or JSON (every message, "
            "citation and feedback), as a download",
            {
                200: {
                    "description": "The export",
                    "content": {
                        "text/markdown": {"schema": TEXT},
                        JSON: {"schema": obj(("exported_at", "conversation"))},
                    },
                }
            },
            (404,),
            parameters=[*UUID_ID, query("format", {"enum": list(exports.FORMATS)})],
        )
    },
    "/api/account/export": {
        "get": op(
            "The caller's conversations, feedback and API key names as a zip",
            {200: {"description": "A zip", "content": {"application/zip": {"schema": TEXT}}}},
        )
    },
    "/api/messages/{id}/feedback": {
        "put": op(
            "Rate one of the caller's answers (the latest rating wins)",
            ok(obj(("feedback",), feedback={"type": "object"})),
            (404, 413),
            parameters=UUID_ID,
            requestBody=body(
                obj(
                    ("rating",),
                    rating={"enum": [1, -1]},
                    comment={"type": "string", "maxLength": feedback.MAX_COMMENT},
                )
            ),
        )
    },
    "/api/feedback": {
        "get": op("The latest ratings (admins)", ok(obj(("feedback",), feedback=array({}))), (403,))
    },
    "/api/passages/{id}": {
        "get": op(
            "A cited passage and the sentence closest to `cite`",
            ok(obj(("passage",), passage={"type": "object"})),
            (404, 410),
            parameters=[
                path("id", {"type": "integer", "minimum": 0, "format": "int64"}),
                query("cite", TEXT, "the answer's sentence (its first 2,000 characters count)"),
                query(
                    "digest",
                    TEXT,
                    "the citation's digest (its `sources` entry): 410 when the passage changed",
                ),
            ],
        )
    },
    "/api/render": {
        "post": op(
            "An answer's Markdown as sanitised HTML",
            ok(obj(("html",), html=TEXT)),
            (413,),
            requestBody=body(
                obj(("text",), text={"type": "string", "maxLength": passages.MAX_RENDER_CHARS})
            ),
        )
    },
    "/v1/models": {
        "get": op(
            "OpenAI-compatible: rag, and rag:<collection> for each readable collection",
            ok(obj(("object", "data"), object={"const": "list"}, data=array({"type": "object"}))),
        )
    },
    "/v1/chat/completions": {
        "post": op(
            "OpenAI-compatible: answer the last user message from the documents",
            {
                200: {
                    "description": "A chat.completion, or chunks as Server-Sent Events",
                    "content": {
                        JSON: {"schema": obj(("id", "object", "choices"))},
                        **EVENT_STREAM,
                    },
                }
            },
            (404, 409, 413, 429),
            requestBody=body(
                {
                    **obj(
                        ("model", "messages"),
                        model={"type": "string", "description": "rag or rag:<collection>"},
                        messages=array(MESSAGE, minItems=1),
                        stream={"type": "boolean"},
                    ),
                    "description": "Other OpenAI fields are accepted and ignored; at most "
                    f"{openai_api.MAX_BODY_BYTES} bytes",
                }
            ),
        )
    },
    "/api/auth/login": {
        "post": op(
            "Sign in (sets the session cookie); form posts get pages instead",
            SIGNED_IN,
            (401, 403, 413, 429),
            public=True,
            requestBody=body(obj(("email", "password"), email=TEXT, password=TEXT, next=TEXT)),
        )
    },
    "/api/auth/oidc/start": {
        "get": op(
            "Sign in with the OpenID Provider (OIDC_ISSUER): a redirect there; a page on error",
            {303: {"description": "To the provider's sign-in"}},
            (404, 429),
            public=True,
            parameters=[query("next", TEXT, "a path on this site to land on")],
        )
    },
    "/api/auth/oidc/callback": {
        "get": op(
            "Where the provider sends the browser back: signed in (the session cookie) and"
            " redirected; a page saying what to do when the sign-in cannot finish",
            {303: {"description": "Signed in: to the path given to start"}},
            (403, 404, 429),
            public=True,
            parameters=[query("code", TEXT), query("state", TEXT), query("error", TEXT)],
        )
    },
    "/api/auth/logout": {
        "post": op(
            "Sign out: ends every session of the user",
            ok(obj(("ok",), ok={"const": True})),
            (403,),
            public=True,
        )
    },
    "/api/auth/setup": {
        "post": op(
            "The first admin, while the site has no user (outside local mode, with the "
            "setup token printed in the log)",
            SIGNED_IN,
            (403, 413, 429),
            public=True,
            requestBody=body(
                {
                    **CREDENTIALS,
                    "properties": {**CREDENTIALS["properties"], "setup_token": TEXT},
                }
            ),
        )
    },
    "/api/auth/signup": {
        "post": op(
            "An account from an invitation token (or a reader with SIGNUP=open)",
            SIGNED_IN,
            (403, 404, 413, 429),
            public=True,
            requestBody=body(
                {**CREDENTIALS, "properties": {**CREDENTIALS["properties"], "token": TEXT}}
            ),
        )
    },
    "/api/auth/me": {
        "get": op(
            "Who the caller is",
            ok(obj(("user", "via"), user=USER, via={"enum": ["key", "session"]})),
        )
    },
    "/api/account/password": {
        "post": op(
            "Change one's password: ends every session and revokes the API keys",
            ok(obj(("ok",), ok={"const": True}, keys_revoked={"type": "integer"})),
            (403, 413, 429),
            requestBody=body(
                obj(
                    ("current_password", "new_password"),
                    current_password=TEXT,
                    new_password=PASSWORD,
                    keep_api_keys={"type": "boolean"},
                )
            ),
        )
    },
    "/api/account/keys": {
        "get": op("One's API keys", ok(obj(("keys",), keys=array(KEY)))),
        "post": op(
            "A new API key, shown once",
            ok(
                {
                    **KEY,
                    "required": ["key", "prefix"],
                    "properties": {**KEY["properties"], "key": TEXT},
                },
                201,
            ),
            (403, 413),
            requestBody=body(
                obj(
                    name={"type": ["string", "null"], "maxLength": 100},
                    expires_days={
                        "type": ["integer", "null"],
                        "minimum": 1,
                        "maximum": MAX_KEY_DAYS,
                    },
                    scopes=array({"enum": list(KEY_SCOPES)}),
                )
            ),
        ),
    },
    "/api/account/keys/{prefix}": {
        "delete": op(
            "Revoke one of one's keys",
            ok(None, 204, "Revoked"),
            (404,),
            parameters=[path("prefix", TEXT)],
        )
    },
    "/api/admin/users": {
        "get": op("Every user (admins)", ok(obj(("users",), users=array(USER))), (403,))
    },
    "/api/admin/users/{id}": {
        "patch": op(
            "Set a user's role, or disable or enable them (admins)",
            ok(
                obj(
                    ("id", "role", "disabled"),
                    id=UUID,
                    role={"enum": list(ROLES)},
                    disabled={"type": "boolean"},
                )
            ),
            (403, 404, 413),
            parameters=UUID_ID,
            requestBody=body(obj(role={"enum": list(ROLES)}, disabled={"type": "boolean"})),
        )
    },
    "/api/admin/invitations": {
        "get": op("Invitations (admins)", ok(obj(("invitations",), invitations=array({}))), (403,)),
        "post": op(
            "An invitation link, shown once (admins)",
            ok(obj(("url", "token", "role"), url=TEXT, token=TEXT, role=TEXT), 201),
            (403, 413),
            requestBody=body(
                obj(
                    role={"enum": list(ROLES)},
                    email={"anyOf": [{"type": "string", "pattern": "@"}, {"type": "null"}]},
                )
            ),
        ),
    },
    "/api/admin/collections": {
        "get": op(
            "Every collection with owner and members (admins)",
            ok(obj(("collections",), collections=array({}))),
            (403,),
        )
    },
    "/api/admin/collections/{name}": {
        "patch": op(
            "Make a collection private or shared (admins)",
            ok(obj(("name", "visibility"))),
            (403, 404, 409, 413),
            parameters=COLLECTION_PATH,
            requestBody=body(obj(("visibility",), visibility={"enum": ["private", "shared"]})),
        )
    },
    "/api/admin/collections/{name}/members": {
        "post": op(
            "Add a member to a collection (admins)",
            ok(obj(("name", "member")), 201),
            (403, 404, 409, 413),
            parameters=COLLECTION_PATH,
            requestBody=body(obj(("email",), email=TEXT)),
        )
    },
    "/api/admin/collections/{name}/members/{email}": {
        "delete": op(
            "Remove a member from a collection (admins)",
            ok(None, 204, "Removed"),
            (403, 404, 409),
            parameters=[*COLLECTION_PATH, path("email", TEXT)],
        )
    },
    "/api/admin/usage": {
        "get": op(
            "Usage (admins): questions per day and per user, answers per collection, answer "
            "latency p50/p95, failed ingestions",
            ok(
                obj(
                    ("days", "questions_per_day", "questions_per_user", "answer_latency"),
                    days={"type": "integer"},
                    questions_per_day=array({"type": "object"}),
                    questions_per_user=array({"type": "object"}),
                    answers_per_collection=array({"type": "object"}),
                    answer_latency={"type": "object"},
                    failed_ingestions={"type": "object"},
                )
            ),
            (403,),
            parameters=[
                query("days", {"type": "integer", "minimum": 1, "maximum": usage.MAX_DAYS})
            ],
        )
    },
    "/api/admin/keys": {
        "get": op("Every API key (admins)", ok(obj(("keys",), keys=array(KEY))), (403,))
    },
    "/api/admin/keys/{prefix}": {
        "delete": op(
            "Revoke any key (admins)",
            ok(None, 204, "Revoked"),
            (403, 404),
            parameters=[path("prefix", TEXT)],
        )
    },
    "/api/sources": {
        "get": op(
            "Sources of the collections the caller may read (editors and admins)",
            ok(obj(("sources",), sources=array(SOURCE))),
            (403,),
        ),
        "post": op(
            "Add a source kept in sync with a collection: folder (admins, under SOURCE_ROOTS),"
            " web or s3",
            ok(obj(("source",), source=SOURCE), 201),
            (403, 404, 409, 413),
            requestBody=body(
                obj(
                    ("kind", "name"),
                    kind={"enum": list(sources.KINDS)},
                    name={"type": "string", "pattern": db_sources.NAME.pattern},
                    settings={
                        "type": "object",
                        "description": 'folder {"path"}; web {"url", "max_pages", "max_depth"};'
                        ' s3 {"url": "s3://BUCKET/PREFIX", "endpoint", "region",'
                        ' "access_key_id", "secret_access_key" (write-only)}',
                    },
                    path={**TEXT, "description": 'folder only: the same as settings {"path"}'},
                    collection=COLLECTION,
                    every_minutes={
                        "type": ["integer", "null"],
                        "minimum": 1,
                        "maximum": routes_sources.MAX_EVERY_MINUTES,
                    },
                )
            ),
        ),
    },
    "/api/sources/{id}/sync": {
        "post": op(
            "Sync a source now (editors who may write its collection): one at a time",
            ok(
                obj(("job_id",), job_id={"type": "integer"}, already_running={"type": "boolean"}),
                202,
            ),
            (403, 404),
            parameters=[path("id", {"type": "integer", "minimum": 1})],
        )
    },
    "/api/sources/{id}": {
        "patch": op(
            "Pause or resume a source's schedule (editors who may write its collection)",
            ok(obj(("source",), source=SOURCE)),
            (403, 404, 413),
            parameters=[path("id", {"type": "integer", "minimum": 1})],
            requestBody=body(obj(("paused",), paused={"type": "boolean"})),
        ),
        "delete": op(
            "Delete a source and the documents it brought (or keep them, unsynced)",
            ok(None, 204, "Deleted"),
            (403, 404),
            parameters=[
                path("id", {"type": "integer", "minimum": 1}),
                query(
                    "keep_documents",
                    {"enum": ["true", "false"]},
                    "true: its documents stay in the collection as uploads (identical copies go)",
                ),
            ],
        ),
    },
    "/api/admin/audit": {
        "get": op(
            "Security events, newest first (admins)",
            ok(obj(("events", "next_before"), events=array(AUDIT_EVENT), next_before=NULLABLE_ID)),
            (403,),
            parameters=[
                query("actor", TEXT, "the actor's email"),
                query("action", {"enum": list(audit_sql.ACTIONS)}),
                query("since", TEXT, "an ISO date or time (UTC when it names no zone)"),
                query("before", {"type": "integer"}, "an event id: older events (paging)"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            ],
        )
    },
}

ERROR = obj(
    ("error",),
    error=obj(("code", "message"), code=TEXT, message={"type": "string", "minLength": 1}),
)

DOCUMENT_ROOT: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "RAG website API",
        "version": "1",
        "description": "Upload documents, search them, ask questions answered with citations. "
        'Errors are {"error": {"code", "message"}} with a 4xx or 5xx status.',
    },
    "paths": PATHS,
    "security": [{"apiKey": []}, {"session": []}],
    "components": {
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (Account page, POST /api/account/keys)",
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "session",
                "description": "The browser's session; changes also need the X-CSRF-Token "
                "header and the site's Origin",
            },
        },
        "schemas": {"Error": ERROR},
        "responses": {
            f"E{status}": {
                "description": reason,
                "content": {JSON: {"schema": ref("Error")}},
            }
            for status, reason in REASONS.items()
        },
    },
}


@policy("public")
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT_ROOT)


routes = [Route("/openapi.json", openapi, methods=["GET"])]
