"""The job kinds this deployment runs: one line per kind (its module is app/jobs/KIND.py)."""

from __future__ import annotations

from app.jobs import Deps, Kind
from app.jobs.ingest import Ingest
from app.jobs.replace import Replace
from app.jobs.sync import Sync


def kinds(deps: Deps) -> list[Kind]:
    return [
        Ingest(deps),
        Sync(deps),
        Replace(deps),
    ]
