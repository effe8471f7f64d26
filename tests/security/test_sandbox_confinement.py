"""Low (review): the parser child inherited the server's whole environment (DATABASE_URL,
LLM_API_KEY), its hard limits were unlimited, and it had network and filesystem access."""

from __future__ import annotations

import os
import resource

import pytest

from app.ingest import sandbox


@pytest.fixture
def box():
    made = sandbox.Sandbox(sandbox.Limits(timeout_seconds=20, memory_mb=1024))
    yield made
    made.close()


def test_parser_child_gets_no_environment_hard_limits_no_network_and_no_files(box, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@db/app")
    monkeypatch.setenv("LLM_API_KEY", "sk-secret")
    seen = box.probe()
    assert not {"DATABASE_URL", "LLM_API_KEY"} & set(seen["environment"])
    assert len(seen["environment"]) <= 3  # what Python itself sets (LC_CTYPE), nothing more
    for name, (soft, hard) in seen["limits"].items():
        assert soft == hard != resource.RLIM_INFINITY, name
    assert seen["limits"]["RLIMIT_AS"][0] == 1024 * 1024 * 1024
    for action in ("connect", "read_etc_passwd", "write_file", "subprocess"):
        assert seen[action].startswith("refused"), (action, seen[action])
    assert not os.path.exists("/tmp/parser-was-here")


def test_parse_processes_still_parse_after_confinement(box):
    parsed = box.parse(b"<title>Fine</title><p>An ordinary page.</p>", "text/html", "f.html")
    assert parsed.title == "Fine" and "ordinary page" in parsed.text
