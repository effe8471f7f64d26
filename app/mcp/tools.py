"""The MCP tools: search, ask, list_collections, get_passage.

Each one reads the caller and checks access with the same functions as the HTTP routes
(app.auth.access), calls the same services (hybrid search, the Answerer), and counts against
the same rate limits (searches, asks) as /api/search and /api/chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar
from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.requests import Request

from app.auth.access import principal_of, readable_ids, readable_scope, require_document
from app.db import document_list
from app.db import passages as passage_sql
from app.errors import AppError, NotFound
from app.rag.protocol import DONE, ERROR, SOURCES, TOKEN, check_question, parse_scope
from app.resources import Resources

MAX_K = 50  # as GET /api/search
INT64_MAX = 2**63 - 1  # chunk ids are bigints: a larger number would fail in the driver
MAX_QUERY_CHARS = 1000
INSTRUCTIONS = (
    "Search and question the documents of this knowledge base. `search` finds passages, "
    "`ask` answers with numbered citations [n] that point at its `citations`, "
    "`get_passage` reads a cited passage in full, `list_collections` names the collections "
    "a search or question can be limited to."
)

P = ParamSpec("P")
R = TypeVar("R")


def _request(ctx: Context) -> Request:
    request = ctx.request_context.request
    if not isinstance(request, Request):  # only the HTTP transport serves these tools
        raise ToolError("this tool is served over HTTP only")
    return request


def _resources(request: Request) -> Resources:
    return request.state.resources


def _app_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """The app's errors as tool errors the model can read: "[404 unknown_collection] there is
    no collection 'x'" (the status and code the HTTP API would answer)."""

    @wraps(fn)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except AppError as exc:
            raise ToolError(f"[{exc.status} {exc.code}] {exc.message}") from exc

    return wrapped


async def _count(request: Request, kind: str) -> None:
    """Count one `kind` (searches, asks) against the caller's rate limit; refused past it."""
    principal = request.state.principal  # /mcp takes API keys only: never None here
    retry = await request.state.rate_limit(kind, f"user:{principal.user_id}")
    if retry is not None:
        raise ToolError(f"[429 rate_limited] too many {kind}: try again in {retry} s")


@_app_errors
async def search(
    query: Annotated[str, Field(description="what to look for", max_length=MAX_QUERY_CHARS)],
    ctx: Context,
    collection: Annotated[
        str | None,
        Field(description="limit to this collection: a name from list_collections, or id:N"),
    ] = None,
    k: Annotated[int, Field(ge=1, le=MAX_K, description="how many passages")] = 10,
) -> dict[str, Any]:
    """Find the passages of the documents that best match a query (hybrid search)."""
    request = _request(ctx)
    if not query.strip():
        raise ToolError("[400 empty_query] the query is empty")
    await _count(request, "searches")
    scope = await readable_scope(request, parse_scope(collection))
    resources = _resources(request)
    retrieval = await resources.retriever.retrieve(query.strip(), scope=scope, k=k)
    passages = retrieval.passages
    return {"results": [p.to_json() for p in passages]}


@_app_errors
async def ask(
    question: Annotated[str, Field(description="the question, in the user's words")],
    ctx: Context,
    collection: Annotated[
        str | None,
        Field(
            description="answer from this collection only: a name from list_collections, or id:N"
        ),
    ] = None,
    conversation_id: Annotated[
        str | None, Field(description="continue this conversation (a follow-up question)")
    ] = None,
) -> dict[str, Any]:
    """Answer a question from the documents, citing passages as [n]; each citation names its
    document, page and passage id (read it with get_passage). Stored as a conversation of the
    key's owner, continued by passing its conversation_id. Progress notifications carry the
    answer's text as it is written."""
    request = _request(ctx)
    question = check_question(question)
    try:
        conversation = UUID(conversation_id) if conversation_id is not None else None
    except ValueError:
        raise NotFound(
            f"there is no conversation {conversation_id!r}", code="unknown_conversation"
        ) from None
    await _count(request, "asks")
    scope = await readable_scope(request, parse_scope(collection))
    answerer = _resources(request).answerer
    user_id = principal_of(request).user_id
    pending = await answerer.open(question, conversation, scope, user_id=user_id)
    text: list[str] = []
    sources: list[dict[str, Any]] = []
    done: dict[str, Any] = {}
    await ctx.report_progress(0, message="searching the documents")
    async with aclosing(answerer.stream(pending)) as events:
        async for name, data in events:
            if name == SOURCES:
                sources = data["sources"]
            elif name == TOKEN:
                text.append(data["text"])
                await ctx.report_progress(len(text), message=data["text"])
            elif name == DONE:
                done = data
            elif name == ERROR:
                raise ToolError(f"[error {data['code']}] {data['message']}")
    return {
        "answer": "".join(text),
        "citations": sources,
        "conversation_id": str(pending.conversation_id),
        "message_id": str(pending.message_id),
        "answered": done.get("answered", bool(sources)),
        "unsupported_citations": done.get("unsupported_citations", []),
    }


@_app_errors
async def list_collections(ctx: Context) -> dict[str, Any]:
    """The collections the caller may read, with how many documents each holds."""
    request = _request(ctx)
    readable = await readable_ids(request)
    async with _resources(request).pool.acquire() as conn:
        rows = await document_list.collections(conn, readable)
    return {
        # The id names one where several share a name ("id:N" wherever a name is taken).
        "collections": [
            {"name": r["name"], "id": r["id"], "document_count": r["document_count"]} for r in rows
        ]
    }


@_app_errors
async def get_passage(
    id: Annotated[
        int, Field(ge=1, le=INT64_MAX, description="a passage id (chunk_id of a result)")
    ],
    ctx: Context,
) -> dict[str, Any]:
    """One passage in full: its text, document, heading path and page."""
    request = _request(ctx)
    async with _resources(request).pool.acquire() as conn:
        row = await passage_sql.get(conn, id)
    missing = NotFound(f"there is no passage {id} (its document may have been deleted)")
    if row is None:
        raise missing
    try:  # a passage of a document the caller may not read does not exist for them
        await require_document(request, "read", row["document_id"])
    except NotFound:
        raise missing from None
    return {
        "passage": {
            "chunk_id": row["id"],
            "document_id": str(row["document_id"]),
            "title": row["title"],
            "source": row["source"],
            "heading_path": list(row["heading_path"]),
            "page": row["page"],
            "text": row["text"],
        }
    }


# Hints for clients that ask before calling: only `ask` writes (it stores a conversation).
READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
TOOLS = ((search, READS), (ask, WRITES), (list_collections, READS), (get_passage, READS))


def build_server() -> MCPServer:
    """A fresh MCP server with the tools (one per app lifespan: its session manager runs once)."""
    server = MCPServer("rag-website", instructions=INSTRUCTIONS, log_level="WARNING")
    for tool, hints in TOOLS:
        server.add_tool(tool, annotations=hints)
    return server
