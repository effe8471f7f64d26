"""GET /openapi.json: a valid OpenAPI 3.1 document that names every route of the JSON API."""

from __future__ import annotations

import schemathesis
from openapi_spec_validator import validate
from starlette.routing import Route

from app.routes import routes
from app.routes.openapi import DOCUMENT_ROOT

# The JSON API: what the document must describe. Pages, static files, /metrics (Prometheus
# text) and the WebSocket (not a Starlette route) are left out on purpose.
JSON_ROOTS = ("/healthz", "/readyz", "/openapi.json")
JSON_PREFIXES = ("/api/", "/v1/")
METHODS = {"get", "post", "put", "patch", "delete"}  # HEAD comes with GET


def api_operations() -> set[tuple[str, str]]:
    found = set()
    for route in routes:
        if isinstance(route, Route) and (
            route.path in JSON_ROOTS or route.path.startswith(JSON_PREFIXES)
        ):
            found |= {(m.lower(), route.path) for m in route.methods or ()}
    return {(method, path) for method, path in found if method in METHODS}


def documented_operations() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in DOCUMENT_ROOT["paths"].items()
        for method in item
        if method in METHODS
    }


def test_openapi_document_is_valid_openapi_3_1():
    assert DOCUMENT_ROOT["openapi"].startswith("3.1")
    validate(DOCUMENT_ROOT)
    # What the fuzzer loads: every operation must make a schemathesis operation.
    schema = schemathesis.openapi.from_dict(DOCUMENT_ROOT)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(documented_operations())


def test_every_api_route_is_in_the_openapi_document_and_nothing_else():
    assert api_operations() - documented_operations() == set(), "routes missing from the doc"
    assert documented_operations() - api_operations() == set(), "described but not routed"


def test_every_error_answer_uses_the_error_shape():
    for path, item in DOCUMENT_ROOT["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    assert answer == {"$ref": f"#/components/responses/E{status}"}, (
                        method,
                        path,
                        status,
                    )


def test_openapi_json_is_served_without_a_key(client):
    response = client.get("/openapi.json", headers={"authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DOCUMENT_ROOT
    # Without a key the API itself still refuses: only the description is public.
    refused = client.get("/api/documents", headers={"authorization": ""})
    assert refused.status_code == 401 and refused.json()["error"]["message"]
