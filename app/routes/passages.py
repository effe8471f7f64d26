"""What a citation points at: the passage, its place in the document, the cited sentence;
and the Markdown rendering the page shows once an answer is done."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.access import principal_of, require_document
from app.auth.policy import policy
from app.db import passages as passage_sql
from app.errors import BadRequest, Gone, NotFound
from app.infra.bounded import Bounded
from app.ingest.formats import ocr
from app.routes.deps import read_json, resources_of, whole_number
from app.text.markdown import render
from app.text.sentences import sentence_spans

_WORD = re.compile(r"\w+")
# Markdown heading lines a chunk starts with: the panel shows them as the heading path instead.
_LEADING_HEADINGS = re.compile(r"\A(?:[ \t]*(?:#{1,6}[ \t][^\n]*)?\n)+")
MAX_RENDER_CHARS = 100_000
CHANGED = (
    "This passage has changed since this answer: its document was edited, re-synced or "
    "removed after the answer was written."
)
RENDERING = Bounded(2, 10.0, "the server is busy rendering other answers: try again shortly")


def best_sentence(text: str, claim: str) -> tuple[int, int] | None:
    """The span of the passage sentence sharing most words with the cited claim."""
    words = {w.lower() for w in _WORD.findall(claim) if len(w) > 2}
    if not words:
        return None
    best, best_score = None, 0.0
    for start, end in sentence_spans(text):
        found = {w.lower() for w in _WORD.findall(text[start:end])}
        score = len(words & found) / (len(words) ** 0.5 * max(len(found), 1) ** 0.5)
        if score > best_score:
            best, best_score = (start, end), score
    return best


def without_leading_headings(text: str) -> str:
    """A passage without the Markdown heading lines it starts with (shown as its heading path
    instead), unless they are all it holds."""
    lead = _LEADING_HEADINGS.match(text)
    return text[lead.end() :] if lead and lead.end() < len(text) else text


@policy("reader")
async def get_passage(request: Request) -> JSONResponse:
    """GET /api/passages/{chunk_id}?cite=<the answer's sentence>&digest=<the citation's>: the
    passage and a highlight; 410 passage_changed when it no longer has that digest."""
    raw = request.path_params["id"]
    try:
        chunk_id = whole_number(raw, "a passage id")  # chunk ids are bigints
    except BadRequest:
        raise NotFound(f"there is no passage {raw!r}") from None
    async with resources_of(request).pool.acquire() as conn:
        row = await passage_sql.get(conn, chunk_id)
    # A stored answer sends the digest its citation kept: a passage gone or edited since is
    # "changed", never a 404 or the new text. Unreadable ones answer the same (no probing).
    kept = request.query_params.get("digest")
    missing = (
        Gone(CHANGED, code="passage_changed")
        if kept
        else NotFound(f"there is no passage {raw} (its document may have been deleted)")
    )
    if row is None:
        raise missing
    try:  # a passage of a document the caller may not read does not exist for them
        await require_document(request, "read", row["document_id"])
    except NotFound:
        raise missing from None
    if kept and kept != row["digest"]:
        raise missing
    text = without_leading_headings(row["text"])
    cite = request.query_params.get("cite", "")[:2000]
    highlight = best_sentence(text, cite) if cite else None
    return JSONResponse(
        {
            "passage": {
                "chunk_id": row["id"],
                "document_id": str(row["document_id"]),
                "title": row["title"],
                "source": row["source"],
                "media_type": row["media_type"],
                "heading_path": list(row["heading_path"]),
                "page": row["page"],
                # Recognised from a scan (OCR): its page's mean word confidence, 0-100.
                "ocr_confidence": row["ocr_confidence"],
                "provenance": ocr.provenance(row["ocr_confidence"]),
                "text": text,
                "highlight": list(highlight) if highlight else None,
            }
        }
    )


@policy("reader")
async def render_markdown(request: Request) -> JSONResponse:
    """POST {"text": ...}: the sanitised HTML of an answer (what the page shows at done)."""
    principal_of(request)  # signed-in users only
    body = await read_json(request, limit=MAX_RENDER_CHARS * 4)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or len(text) > MAX_RENDER_CHARS:
        raise BadRequest(f'send {{"text": "..."}} of at most {MAX_RENDER_CHARS} characters')
    # Off the event loop, two at a time per process: hostile Markdown ("[" * 99000) costs
    # seconds of CPU, which must not stop this worker answering everything else.
    return JSONResponse({"html": await RENDERING.run(render, text)})


routes = [
    Route("/api/passages/{id}", get_passage, methods=["GET"]),
    Route("/api/render", render_markdown, methods=["POST"]),
]
