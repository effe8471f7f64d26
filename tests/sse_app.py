"""A bare Starlette app around app.infra.sse.EventStream, for tests/infra/test_sse.py (also
run as its own uvicorn process: `python -m tests.sse_app PORT`)."""

from __future__ import annotations

import asyncio
import sys
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from app.infra.sse import EventStream, encode

closed = threading.Event()  # set when a stream's generator has run its cleanup


async def busy_then_quiet(request: Request) -> EventStream:
    """Events every 10 ms for 1.5 s, then 1.2 s of nothing, then one last event."""

    async def events():
        for n in range(150):
            yield encode("tick", str(n))
            await asyncio.sleep(0.01)
        yield encode("quiet", "")
        await asyncio.sleep(1.2)
        yield encode("end", "")

    return EventStream(events(), ping=0.5)


async def endless(request: Request) -> EventStream:
    async def events():
        try:
            while True:
                yield encode("tick", "")
                await asyncio.sleep(0.05)
        finally:
            closed.set()

    return EventStream(events(), ping=15)


async def failing(request: Request) -> EventStream:
    async def events():
        yield encode("tick", "")
        raise RuntimeError("the stream broke")

    return EventStream(events())


app = Starlette(
    routes=[
        Route("/busy-then-quiet", busy_then_quiet),
        Route("/endless", endless),
        Route("/failing", failing),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]),
                loop="app.infra.event_loop:new_event_loop", log_level="warning")  # fmt: skip
