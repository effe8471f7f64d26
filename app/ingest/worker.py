"""The ingestion worker: the job runner (app/jobs/runner.py) with every registered kind.

Kept under this name for the commands and tests that start one: `Worker(pool, embedder)`
runs ingest jobs (app/jobs/ingest.py) and any other kind in app/jobs/registry.py.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.embedders import Embedder
from app.jobs import Deps, registry
from app.jobs.ingest import BATCH_BYTES, BATCH_JOBS, OVERLAP_TOKENS, new_chunk
from app.jobs.runner import Runner, public_error

__all__ = ["BATCH_BYTES", "BATCH_JOBS", "OVERLAP_TOKENS", "Worker", "_new_chunk", "_public_error"]

_new_chunk = new_chunk
_public_error = public_error


class Worker(Runner):
    """Runs jobs until stopped; any number of these may share one database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        embedder: Embedder,
        *,
        lock_seconds: float = 60,
        poll_seconds: float = 5,
        retry_base_seconds: float = 5,
        stall_seconds: float = 60,
        **ingest: Any,  # overlap_tokens, batch_jobs, batch_bytes, big_bytes
    ) -> None:
        deps = Deps(pool, embedder, {"ingest": ingest})
        super().__init__(
            pool,
            registry.kinds(deps),
            lock_seconds=lock_seconds,
            poll_seconds=poll_seconds,
            retry_base_seconds=retry_base_seconds,
            stall_seconds=stall_seconds,
        )
