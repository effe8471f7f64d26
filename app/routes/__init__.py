"""All HTTP routes: each resource module owns its own."""

from starlette.routing import BaseRoute

from app.routes import (
    chat,
    conversations,
    documents,
    health,
    metrics,
    openai_api,
    pages,
    search,
)

routes: list[BaseRoute] = [
    *health.routes,
    *metrics.routes,
    *documents.routes,
    *search.routes,
    *chat.routes,
    *conversations.routes,
    *openai_api.routes,
    *pages.routes,
]
