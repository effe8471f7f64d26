"""All HTTP routes: each resource module owns its own."""

from starlette.routing import BaseRoute

from app.routes import (
    account,
    admin,
    auth,
    chat,
    conversations,
    documents,
    health,
    openai_api,
    pages,
    search,
)

routes: list[BaseRoute] = [
    *health.routes,
    *documents.routes,
    *search.routes,
    *chat.routes,
    *conversations.routes,
    *openai_api.routes,
    *auth.routes,
    *account.routes,
    *admin.routes,
    *pages.routes,
]
