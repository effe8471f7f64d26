"""The hand-written ASGI dispatch and its lifespan."""

import asyncio
import gc

import asyncpg
import pytest
from starlette.testclient import TestClient

from app.asgi import Application
from app.config import load_settings
from app.db.migrate import DatabaseSetupError
from app.errors import SchemaBehind
from tests.helpers import AUTH

MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def test_unknown_scope_type_is_rejected():
    async def call():
        await Application(load_settings({}))({"type": "telepathy"}, None, None)

    with pytest.raises(RuntimeError, match="telepathy"):
        asyncio.run(call())


def test_startup_on_a_database_without_pgvector_fails_with_what_to_do(tmp_path):
    settings = load_settings(
        {"DATABASE_URL": MACHINE_POSTGRES, "DATA_DIR": str(tmp_path), "ALLOWED_HOSTS": "testserver"}
    )
    try:
        with pytest.raises(DatabaseSetupError) as caught:
            with TestClient(Application(settings), headers=AUTH):
                pass
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL without pgvector on 127.0.0.1:5432 ({exc})")
    assert "pgvector" in str(caught.value) and "unset DATABASE_URL" in str(caught.value)


def test_startup_on_an_unmigrated_database_says_to_migrate(empty_database, tmp_path):
    settings = load_settings(
        {"DATABASE_URL": empty_database, "DATA_DIR": str(tmp_path), "ALLOWED_HOSTS": "testserver"}
    )
    with pytest.raises(SchemaBehind, match="python -m app migrate"):
        with TestClient(Application(settings), headers=AUTH):
            pass


def test_startup_keeps_the_garbage_collector_off_the_streams_path(settings):
    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        gc.unfreeze()
        with TestClient(Application(settings), headers=AUTH):
            assert gc.get_freeze_count() > 0  # what startup loaded is never scanned again
            assert gc.get_threshold()[0] == 20_000
    finally:
        gc.set_threshold(*thresholds)
