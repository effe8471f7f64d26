"""A web worker loads what it serves with, not what ingestion, the CLI or /mcp use.

Each of these libraries costs a web worker memory for its whole life (bench/memory.py,
docs/deployment.md): a top-level import that pulls one in again fails here, not in a
memory figure months later.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import AUTH

ROOT = Path(__file__).resolve().parents[1]

# What only the ingestion worker, the CLI or the first /mcp request needs.
NOT_IN_THE_WEB_PROCESS = {
    "mcp": "the MCP SDK: the first /mcp request imports it (app/mcp/transport.py)",
    "authlib": "OpenID Connect: the first sign-in with a provider (app/auth/oidc_types.py)",
    "joserfc": "OpenID Connect's ID tokens",
    "httpx2": "OpenID Connect's HTTP client",
    "boto3": "S3 sources: the worker's sync jobs",
    "botocore": "S3 sources",
    "pypdfium2": "PDF parsing: the ingestion worker's sandbox",
    "docx": "Word parsing",
    "pptx": "PowerPoint parsing",
    "python_calamine": "spreadsheet parsing",
    "tesserocr": "OCR",
    "PIL": "images for OCR",
    "bm25s": "eval baselines and stopwords of some questions",
    "tqdm": "the CLI's progress bars",
    "torch": "the optional torch embedder",
    "sentence_transformers": "the optional torch embedder",
    "onnx": "the embedding models derived once per machine, in a child process",
    "py3langid": "the language detector: its model is mapped at the first detection",
}


def test_importing_the_web_app_loads_no_ingestion_cli_or_mcp_library() -> None:
    names = sorted(NOT_IN_THE_WEB_PROCESS)
    script = (
        "import json, sys, app.asgi\n"
        f"print(json.dumps(sorted(set({names!r}) & sys.modules.keys())))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found == [], {name: NOT_IN_THE_WEB_PROCESS[name] for name in found}


def test_web_worker_loads_the_mcp_sdk_at_the_first_mcp_request_only(settings, tmp_path) -> None:
    # The web process's lifespan (not local: no in-process worker), a search, then /mcp.
    script = f"""
        import json, sys
        from starlette.testclient import TestClient
        from app.asgi import Application
        from app.config import load_settings

        settings = load_settings({{
            "DATABASE_URL": {settings.database_url!r},
            "DATA_DIR": {str(tmp_path)!r},
            "ALLOWED_HOSTS": "testserver",
        }})
        with TestClient(Application(settings), headers={AUTH!r}) as client:
            assert client.get("/api/search", params={{"q": "solar panels"}}).status_code == 200
            before = "mcp" in sys.modules
            # The embedding model was derived at startup (a fresh TMPDIR: no cached copy) by
            # a child process, not by importing ONNX's package here.
            assert "onnx" not in sys.modules
            ping = {{"jsonrpc": "2.0", "id": 1, "method": "ping"}}
            headers = {{"Accept": "application/json, text/event-stream"}}
            answer = client.post("/mcp", json=ping, headers=headers)
            assert answer.status_code == 200, answer.text
            print(json.dumps({{"before": before, "after": "mcp" in sys.modules}}))
    """
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"before": False, "after": True}
    assert any(tmp_path.glob("rag-cache-*/minilm-fused-*/model.onnx"))
