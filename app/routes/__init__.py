"""All HTTP routes: each resource module owns its own."""

from starlette.routing import BaseRoute

from app.routes import (
    account,
    admin,
    auth,
    chat,
    collections,
    conversations,
    documents,
    documents_file,
    exports,
    feedback,
    health,
    metrics,
    openai_api,
    openapi,
    pages,
    passages,
    search,
    shares,
    sources,
    usage,
)

routes: list[BaseRoute] = [
    *health.routes,
    *openapi.routes,
    *collections.routes,
    *sources.routes,
    *documents_file.routes,
    *metrics.routes,
    *documents.routes,
    *search.routes,
    *chat.routes,
    *conversations.routes,
    *shares.routes,
    *exports.routes,
    *feedback.routes,
    *passages.routes,
    *openai_api.routes,
    *auth.routes,
    *account.routes,
    *admin.routes,
    *usage.routes,
    *pages.routes,
]
