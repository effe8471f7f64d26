"""Background jobs: one Postgres queue, a runner, and one module per kind of job.

A kind (app/jobs/ingest.py is the model) is an object with a `name`, its `lanes` (how its
jobs are claimed: batch size, a size range, how many batches at once) and two coroutines:
`run(batch)`, which does the work and ends each job it finishes (`batch.ended`), and
`ended(conn, job, status=..., error=...)`, which records a retry or a failure wherever the
kind keeps its own state (a document's status), in the same transaction as the job's.
Adding a kind is its module plus one line in app/jobs/registry.py; the runner
(app/jobs/runner.py) gives every kind the queue's guarantees: claims with FOR UPDATE SKIP
LOCKED, attempts as a fencing token, locks renewed while the job makes progress, poison
jobs failed after their last attempt, and jobs queued again after a database outage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

if TYPE_CHECKING:
    from app.jobs.runner import Batch


@dataclass(frozen=True)
class Lane:
    """One way a kind's jobs are claimed; each lane has its own loop, so a slow lane never
    holds another back. Sizes are the job's document's bytes (0 for jobs without one)."""

    name: str
    batch_jobs: int = 1  # jobs claimed at once
    batch_bytes: int | None = None  # ...adding up to at most this many bytes
    min_size: int = 0
    below_size: int | None = None
    concurrency: int = 1  # batches of this lane running at once


class Kind(Protocol):
    name: str
    lanes: tuple[Lane, ...]

    async def run(self, batch: Batch) -> None:
        """Do the batch's jobs; end each (batch.ended, or retry_or_fail / give_up)."""

    async def ended(
        self, conn: asyncpg.Connection, job: asyncpg.Record, *, status: str, error: str
    ) -> None:
        """The job is queued again ('queued') or failed for good ('failed'): `error` is
        written for people (no addresses, SQL or paths)."""


@dataclass(frozen=True)
class Deps:
    """What kinds are built from (app/jobs/registry.py)."""

    pool: asyncpg.Pool
    embedder: Any = None
    tuning: dict[str, Any] = field(default_factory=dict)  # per-kind settings, by name
    settings: Any = None  # the app's Settings (app/config.py), when a kind needs them
