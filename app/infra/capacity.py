"""How much one web worker takes on at once, sized from the worker count and the cores.

The rule (README, beside WEB_CONCURRENCY), with `c` = cores / WEB_CONCURRENCY (at least 1) for
a web worker, and cores / WORKER_PROCESSES for an ingestion worker (`python -m app worker`):

- EMBEDDING_THREADS = max(1, floor(c)): ONNX Runtime's threads for one embedding; each worker
  would otherwise use every core and the workers' embeddings would fight over them (measured
  on 16 cores: 8 ingestion workers each taking every core gave 2.6x one worker, not 8x).
- ASK_CONCURRENCY = max(4, ASKS_PER_CORE * c): asks starting at once (storing the question,
  embedding it, searching). A start is a chain of short waits (PostgreSQL, the cache, the
  embedder's thread) and each wait is also a wait for the event loop, which a burst keeps
  busy: too few at once and the cores idle between them (measured: 16 on 2 cores started 5
  asks a second in a burst).
- DB_POOL_SIZE = SPARE_CONNECTIONS + CONNECTIONS_PER_CORE * c: PostgreSQL runs a few queries
  per core at a time, the rest wait for a connection (briefly: admission bounds how many
  ask), and answers being stored, stream logs, sign-ins and uploads still find one.
- ASK_QUEUE_SIZE = STARTS_PER_CORE_SECOND * c * ASK_QUEUE_SECONDS: as many as the worker
  starts within the longest wait, so an ask is refused at once rather than after waiting for
  a place it would not get in time.

Each setting given in the environment wins over the rule. WEB_CONCURRENCY * DB_POOL_SIZE,
plus the ingestion workers', must stay below PostgreSQL's max_connections (100 by default).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from app.config import Settings

# Measured with bench/stream.py on 2 shared cores (10k chunks, answers from a slow upstream).
ASKS_PER_CORE = 32
STARTS_PER_CORE_SECOND = 60
CONNECTIONS_PER_CORE = 10
SPARE_CONNECTIONS = 10


@dataclass(frozen=True)
class Capacity:
    cores: int
    workers: int
    embedding_threads: int
    ask_concurrency: int
    ask_queue_size: int
    ask_queue_seconds: float
    db_pool_size: int


def available_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def capacity(settings: Settings, cores: int | None = None, workers: int | None = None) -> Capacity:
    """The sizes for one web worker: each setting, or the rule where it is unset. `workers`
    overrides WEB_CONCURRENCY (`python -m app serve` is one process)."""
    cores = cores or available_cores()
    workers = workers or settings.web_concurrency
    per_worker = max(1.0, cores / workers)
    concurrency = settings.ask_concurrency or max(4, round(ASKS_PER_CORE * per_worker))
    queue = settings.ask_queue_size
    if queue is None:
        queue = math.ceil(STARTS_PER_CORE_SECOND * per_worker * settings.ask_queue_seconds)
    return Capacity(
        cores=cores,
        workers=workers,
        embedding_threads=settings.embedding_threads or max(1, math.floor(per_worker)),
        ask_concurrency=concurrency,
        ask_queue_size=queue,
        ask_queue_seconds=settings.ask_queue_seconds,
        db_pool_size=settings.db_pool_size
        or SPARE_CONNECTIONS + round(CONNECTIONS_PER_CORE * per_worker),
    )
