"""Document events for SSE: NOTIFY document_events, heard once per process.

The worker (in any process, on any machine) sends NOTIFY document_events; every web
process listens once (app/infra/listen.py) and hands each payload to its open event streams,
so a browser sees progress whichever gunicorn worker it is connected to.
"""

from __future__ import annotations

import asyncpg

from app.db.documents import EVENTS_CHANNEL
from app.infra.listen import CLOSED, Listener

__all__ = ["BACKLOG", "CLOSED", "DocumentEvents"]

# Events a slow client may fall behind by before it misses some (it can GET the documents).
BACKLOG = 256


class DocumentEvents(Listener):
    """Subscribe to document status and progress events (JSON payloads)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, EVENTS_CHANNEL, backlog=BACKLOG)
