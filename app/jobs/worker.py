"""The worker: the job runner (app/jobs/runner.py) with every registered kind.

`Worker(pool, embedder)` runs ingest jobs (app/jobs/ingest.py) and any other kind listed in
app/jobs/registry.py; `python -m app worker` and the web process in local mode start one.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from app.embedders import Embedder
from app.jobs import Deps, registry
from app.jobs.runner import STALL_SECONDS, Runner

__all__ = ["Worker"]


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
        stall_seconds: float = STALL_SECONDS,
        settings: Any = None,  # Settings: web and s3 sources follow its URL rules
        **ingest: Any,  # overlap_tokens, batch_jobs, batch_bytes, big_bytes
    ) -> None:
        deps = Deps(pool, embedder, {"ingest": ingest}, settings)
        super().__init__(
            pool,
            registry.kinds(deps),
            lock_seconds=lock_seconds,
            poll_seconds=poll_seconds,
            retry_base_seconds=retry_base_seconds,
            stall_seconds=stall_seconds,
        )
