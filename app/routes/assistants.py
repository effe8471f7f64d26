"""A collection's assistant settings: GET/PUT /api/collections/{name}/assistant.

Only the collection's owner or an admin reads or changes them (the instructions are a system
prompt: not every reader's business); a caller who may read the collection but not manage it
gets 403, one who may not read it 404, as for deleting it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import collection_id, require_role
from app.auth.audit import audit
from app.auth.errors import Forbidden
from app.auth.policy import policy
from app.db import access as access_sql
from app.db import assistants as assistant_sql
from app.errors import LLMError, NotFound
from app.llm.base import LENGTHS
from app.rag import assistant as assistants
from app.resources import Resources
from app.routes.deps import parse_collection_name, read_json, resources_of


async def _managed(request: Request) -> tuple[str, int]:
    """(name, id) of the path's collection, if the caller may manage it."""
    principal = require_role(request, "editor")
    name = parse_collection_name(request.path_params["name"], default=None)
    assert name is not None  # the route matches a non-empty segment
    chosen = await collection_id(request, name)  # the one the name means to the caller
    async with resources_of(request).pool.acquire() as conn:
        row = await access_sql.management_facts(conn, chosen, principal.user_id, principal.admin)
    if row is None or not row["readable"]:
        raise NotFound(f"there is no collection {name!r}", code="unknown_collection")
    if not row["manageable"]:
        raise Forbidden(
            f"only the owner of the collection {name!r} or an admin may change its assistant"
        )
    return name, row["id"]


def _default_model(resources: Resources) -> str | None:
    return resources.settings.llm_model if resources.llm.name == "openai" else None


async def _view(resources: Resources, name: str, current: assistants.Assistant) -> dict[str, Any]:
    """The settings with what the panel offers: the provider's models, the bounds."""
    models: list[str] = []
    models_error = None
    try:
        models = await resources.llm.models()
    except LLMError as exc:  # the panel still works; the model stays as it is
        models_error = exc.message
    return {
        "collection": name,
        "assistant": current.to_json(),
        "provider": resources.llm.name,  # "extractive": only passages, rerank, length apply
        "default_model": _default_model(resources),
        "models": models,
        "models_error": models_error,
        "reranker": resources.reranker is not None,
        "lengths": list(LENGTHS),
        "limits": {
            "instructions": assistants.MAX_INSTRUCTIONS,
            "passages": {
                "min": assistants.MIN_PASSAGES,
                "max": assistants.MAX_PASSAGES,
                "default": assistants.DEFAULT_PASSAGES,
            },
        },
    }


@policy("editor")
async def get_assistant(request: Request) -> JSONResponse:
    name, collection_id = await _managed(request)
    resources = resources_of(request)
    async with resources.pool.acquire() as conn:
        current = await assistants.load(conn, collection_id)
    return JSONResponse(await _view(resources, name, current))


@policy("editor")
async def put_assistant(request: Request) -> JSONResponse:
    """Replace the settings: a field left out or null is the site's default."""
    name, collection_id = await _managed(request)
    resources = resources_of(request)
    body = await read_json(request)
    # The provider is asked only when a model other than the configured one is chosen.
    chosen = await assistants.parse(body, resources.llm.models, _default_model(resources))
    principal = require_role(request, "editor")
    async with resources.pool.acquire() as conn, conn.transaction():
        await assistant_sql.put(conn, collection_id, chosen.to_json(), user_id=principal.user_id)
        await audit(
            request,
            conn,
            "collection_assistant_changed",
            target=name,
            details={k: v for k, v in chosen.to_json().items() if k != "instructions"}
            | {"instructions_chars": len(chosen.instructions)},
        )
    return JSONResponse(await _view(resources, name, chosen))


routes = [
    Route("/api/collections/{name}/assistant", get_assistant, methods=["GET"]),
    Route("/api/collections/{name}/assistant", put_assistant, methods=["PUT"]),
]
