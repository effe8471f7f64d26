"""All HTTP routes: each resource module owns its own."""

from starlette.routing import BaseRoute

from app.routes import (
    account,
    admin,
    audit,
    auth,
    chat,
    collections,
    conversations,
    documents,
    documents_file,
    feedback,
    health,
    metrics,
    openai_api,
    openapi,
    pages,
    passages,
    search,
)

routes: list[BaseRoute] = [
    *health.routes,
    *openapi.routes,
    *collections.routes,
    *documents_file.routes,
    *metrics.routes,
    *documents.routes,
    *search.routes,
    *chat.routes,
    *conversations.routes,
    *feedback.routes,
    *passages.routes,
    *openai_api.routes,
    *auth.routes,
    *account.routes,
    *admin.routes,
    *audit.routes,
    *pages.routes,
]
