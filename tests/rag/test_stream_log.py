"""The stream log: each backend (Postgres, Redis, in-process) by the same tests, and the
writer: one write carries many streams, and a failed write leaves no gap."""

import asyncio
from uuid import uuid4

import pytest

from app.backends import open_stream_log, stream_log_url
from app.config import load_settings
from app.db.pool import create_pool
from app.rag.stream_log import Recorder, StreamWriter


@pytest.fixture(params=["postgres", "memory", "redis"])
def store_url(request) -> tuple[str, str | None]:
    """The backend's URL, and the database's for the Postgres one."""
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("database_url")
    if request.param == "memory":
        return "memory://", None
    return request.getfixturevalue("redis_url"), None


@pytest.fixture
async def store(store_url):
    url, database_url = store_url
    pool = await create_pool(database_url, max_size=2) if database_url else None
    backend = open_stream_log(url, pool)  # type: ignore[arg-type]
    yield backend
    await backend.aclose()
    if pool is not None:
        await pool.close()


async def test_a_stream_is_read_back_in_order_from_any_point(store):
    stream = uuid4()
    await store.write({stream: [(1, "meta", '{"provider": "x"}'), (2, "token", '{"text": "a"}')]})
    await store.write({stream: [(3, "token", '{"text": "b"}'), (4, "done", "{}")]})
    assert await store.after(stream, 0) == [
        (1, "meta", {"provider": "x"}),
        (2, "token", {"text": "a"}),
        (3, "token", {"text": "b"}),
        (4, "done", {}),
    ]
    assert await store.after(stream, 2) == [(3, "token", {"text": "b"}), (4, "done", {})]
    assert await store.after(stream, 4) == []
    assert await store.after(uuid4(), 0) == []  # a stream never written


async def test_one_write_keeps_many_streams_apart(store):
    streams = [uuid4() for _ in range(300)]  # more than one Redis pipeline slice
    await store.write({s: [(1, "meta", f'{{"n": {n}}}')] for n, s in enumerate(streams)})
    await store.write({s: [(2, "done", "{}")] for s in streams})
    for n, s in enumerate(streams):
        assert await store.after(s, 0) == [(1, "meta", {"n": n}), (2, "done", {})]


async def test_the_writer_records_many_streams_into_each_backend(store):
    writer = StreamWriter(store)
    recorders = [Recorder(writer, uuid4()) for _ in range(20)]
    for n in (1, 2):
        for recorder in recorders:
            recorder.add(n, "token", f'{{"text": "{n}"}}')
    await asyncio.gather(*(r.close() for r in recorders))
    for recorder in recorders:
        assert [e[0] for e in await store.after(recorder.stream_id, 0)] == [1, 2]


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "postgres"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0"),
        ({"REDIS_URL": "redis://r:6379/0", "STREAM_LOG_URL": "memory://"}, "memory://"),
    ],
)
def test_the_stream_log_is_chosen_by_url_with_redis_url_as_the_default(env, url):
    assert stream_log_url(load_settings(env)) == url


class FlakyLog:
    """A stream log in a dict that can be told to fail, counting its writes."""

    def __init__(self) -> None:
        self.events: dict = {}
        self.writes = 0
        self.down = False

    async def write(self, batch) -> None:
        await asyncio.sleep(0.01)  # a round trip, during which more events arrive
        if self.down:
            raise ConnectionError("the store is down")
        self.writes += 1
        for stream_id, events in batch.items():
            self.events.setdefault(stream_id, []).extend(events)

    async def after(self, stream_id, seq):
        return self.events.get(stream_id, [])[seq:]


async def test_the_events_of_many_streams_share_writes():
    log = FlakyLog()
    writer = StreamWriter(log)
    recorders = [Recorder(writer, uuid4()) for _ in range(100)]
    for n in range(1, 4):
        for recorder in recorders:
            recorder.add(n, "token", f'{{"text": "{n}"}}')
    await asyncio.gather(*(r.close() for r in recorders))
    assert log.writes < 10
    for recorder in recorders:
        assert [e[0] for e in await log.after(recorder.stream_id, 0)] == [1, 2, 3]


async def test_a_stream_whose_write_failed_is_not_continued_with_a_gap():
    log = FlakyLog()
    writer = StreamWriter(log)
    recorder = Recorder(writer, uuid4())
    recorder.add(1, "meta", "{}")
    assert await writer.flush(recorder.stream_id)
    log.down = True
    recorder.add(2, "token", '{"text": "lost"}')
    assert not await writer.flush(recorder.stream_id)
    log.down = False
    recorder.add(3, "token", '{"text": "after"}')
    await recorder.close()
    # Event n must be the n-th in the log: after a lost event, nothing more is written.
    assert await log.after(recorder.stream_id, 0) == [(1, "meta", "{}")]
