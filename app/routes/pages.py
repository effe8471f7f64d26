"""The web UI."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app.ingest import formats
from app.routes.deps import resources_of
from app.templating import STATIC_DIR, templates


async def index(request: Request) -> Response:
    settings = resources_of(request).settings
    return templates.TemplateResponse(
        request, "index.html", {"max_upload_mb": settings.max_upload_mb, "formats": formats}
    )


routes = [
    Route("/", index),
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
]
