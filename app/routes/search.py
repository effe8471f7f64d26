"""Hybrid search over the chunks."""

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import readable_scope
from app.auth.policy import policy
from app.errors import BadRequest
from app.rag.retriever import Scope
from app.routes.deps import parse_collection_name, parse_uuid, resources_of, whole_number

MAX_K = 50
MAX_QUERY_CHARS = 1000  # a search is a few words; longer only costs tokenizing and ranking


@policy("reader", limit="searches")
async def search(request: Request) -> JSONResponse:
    query = request.query_params.get("q", "").strip()
    if not query:
        raise BadRequest("the query is empty: pass it as ?q=...", code="empty_query")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(
            f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}",
            code="query_too_long",
        )
    k = whole_number(request.query_params.get("k", "10"), "k", 1, MAX_K)
    scope = Scope(
        collection=parse_collection_name(request.query_params.get("collection"), default=None),
        document_ids=tuple(
            parse_uuid(value, "document") for value in request.query_params.getlist("document_id")
        ),
    )
    scope = await readable_scope(request, scope)
    retriever = resources_of(request).retriever
    if request.query_params.get("cache") == "off":
        retriever = replace(retriever, cache=None)
    retrieval = await retriever.retrieve(query, scope=scope, k=k)
    return JSONResponse({"results": [p.to_json() for p in retrieval.passages]})


routes = [Route("/api/search", search)]
