"""The web UI: the chat page and the documents page (server-rendered, scripts in static/)."""

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app.auth.policy import declare, policy
from app.ingest import formats
from app.routes.deps import resources_of
from app.sources.folder import roots as folder_roots
from app.templating import STATIC_DIR, templates


def _page(request: Request, template: str, page: str) -> Response:
    settings = resources_of(request).settings
    principal = request.scope.get("state", {}).get("principal")
    # Readers may not add documents: their pages show no upload control (the API refuses too).
    can_upload = principal is not None and principal.editor
    # Folder sources read the server's disks: admins only, under SOURCE_ROOTS.
    is_admin = principal is not None and principal.admin
    return templates.TemplateResponse(
        request,
        template,
        {
            "max_upload_mb": settings.max_upload_mb,
            "formats": formats,
            "page": page,
            "can_upload": can_upload,
            "is_admin": is_admin,
            "source_roots": [str(root) for root in folder_roots()] if is_admin else [],
            "public_share_links": settings.public_share_links,
        },
    )


@policy("reader")
async def index(request: Request) -> Response:
    return _page(request, "index.html", "chat")


@policy("reader")
async def documents(request: Request) -> Response:
    return _page(request, "documents.html", "documents")


@policy("public")
async def favicon(_request: Request) -> Response:
    # Browsers ask for /favicon.ico whatever the page says; answer with the SVG icon.
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


routes = [
    Route("/", index),
    Route("/documents", documents),
    Route("/favicon.ico", favicon),
    Mount("/static", declare(StaticFiles(directory=STATIC_DIR), "public"), name="static"),
]
