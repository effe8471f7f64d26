"""The stream log's writer: one write carries many streams, and a failed write leaves no gap."""

import asyncio
from uuid import uuid4

from app.rag.stream_log import Recorder, StreamWriter


class MemoryLog:
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
    log = MemoryLog()
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
    log = MemoryLog()
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
