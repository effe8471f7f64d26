"""The admission gate: a bounded number of asks start at once, the rest wait in arrival order
in a bounded queue, and the excess is refused as Overloaded with a Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from app.config import load_settings
from app.errors import Overloaded
from app.infra.admission import Admission
from app.infra.capacity import capacity


async def test_waiting_asks_start_in_arrival_order():
    admission = Admission(capacity=1, queue_size=3, max_wait=30)
    first = await admission.enter()
    started: list[int] = []

    async def ask(n: int) -> None:
        ticket = await admission.enter()
        started.append(n)
        ticket.release()

    waiting = []
    for n in range(3):
        waiting.append(asyncio.create_task(ask(n)))
        await asyncio.sleep(0)  # queued in this order
    assert admission.waiting == 3 and started == []
    first.release()
    await asyncio.gather(*waiting)
    assert started == [0, 1, 2]
    assert admission.active == 0 and admission.waiting == 0 and admission.peak == 3


async def test_a_full_queue_refuses_at_once_with_retry_after():
    admission = Admission(capacity=1, queue_size=1, max_wait=30)
    held = await admission.enter()
    queued = asyncio.create_task(admission.enter())
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as refused:
        await admission.enter()
    assert refused.value.status == 503 and refused.value.code == "overloaded"
    assert refused.value.retry_after >= 1
    assert f"try again in {refused.value.retry_after} seconds" in refused.value.message
    held.release()
    (await queued).release()
    assert admission.active == 0


async def test_an_ask_that_waits_too_long_is_refused_and_leaves_the_queue():
    admission = Admission(capacity=1, queue_size=5, max_wait=0.05)
    held = await admission.enter()
    with pytest.raises(Overloaded):
        await admission.enter()
    assert admission.waiting == 0
    held.release()
    assert admission.active == 0
    (await admission.enter()).release()  # the place is free again


async def test_a_client_gone_while_waiting_does_not_keep_a_place():
    admission = Admission(capacity=1, queue_size=5, max_wait=30)
    held = await admission.enter()
    gone = asyncio.create_task(admission.enter())
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert admission.waiting == 0
    held.release()
    held.release()  # idempotent: released once only
    assert admission.active == 0


async def test_a_place_handed_to_a_cancelled_waiter_goes_to_the_next():
    admission = Admission(capacity=1, queue_size=5, max_wait=30)
    held = await admission.enter()
    gone = asyncio.create_task(admission.enter())
    next_one = asyncio.create_task(admission.enter())
    await asyncio.sleep(0)
    held.release()  # hands the place to `gone`...
    gone.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await gone
    (await next_one).release()
    assert admission.active == 0 and admission.waiting == 0


def test_the_sizes_follow_the_workers_and_cores_unless_set():
    two_workers = capacity(load_settings({"WEB_CONCURRENCY": "2"}), cores=8)
    one_worker = capacity(load_settings({"WEB_CONCURRENCY": "1"}), cores=8)
    assert two_workers.embedding_threads == 4 and one_worker.embedding_threads == 8
    assert one_worker.ask_concurrency == 2 * two_workers.ask_concurrency
    assert one_worker.db_pool_size > two_workers.db_pool_size >= 10
    crowded = capacity(load_settings({"WEB_CONCURRENCY": "4"}), cores=2)
    assert crowded.embedding_threads == 1 and crowded.ask_concurrency >= 4
    chosen = capacity(
        load_settings({"ASK_CONCURRENCY": "3", "ASK_QUEUE_SIZE": "0", "DB_POOL_SIZE": "7"}),
        cores=8,
    )
    assert (chosen.ask_concurrency, chosen.ask_queue_size, chosen.db_pool_size) == (3, 0, 7)
