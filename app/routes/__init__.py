"""All HTTP routes: each resource module owns its own."""

from starlette.routing import BaseRoute

from app.routes import chat, documents, health, pages, search

routes: list[BaseRoute] = [
    *health.routes,
    *documents.routes,
    *search.routes,
    *chat.routes,
    *pages.routes,
]
