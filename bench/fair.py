"""Fair ingestion: a long PDF uploaded first, then small text files, with the real embedder.

    python bench/fair.py [--pages 300] [--small 5]

Serves the app (in-process worker, the configured embedder: onnx-int8 by default) on a fresh
embedded PostgreSQL, uploads a generated PDF of --pages pages, waits until it is processing,
uploads --small text files, and reads the document events. Prints when each small file and
the PDF became ready (seconds from the PDF's upload) and the longest gap between two progress
events of the PDF; the last line is JSON with those figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db.embedded import start_embedded  # noqa: E402
from bench.smoke import parse_args  # noqa: E402
from tests.conftest import TEST_ENV  # noqa: E402
from tests.faults.scenarios import database, serve, until  # noqa: E402
from tests.files import pdf  # noqa: E402
from tests.helpers import AUTH  # noqa: E402
from tests.jobs.test_fair_ingest import _Events, _status  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--small", type=int, default=5)
    args = parse_args(parser, pages=8, small=2)
    words = "the shell reads commands from a file or the terminal and expands each word"
    body = " ".join(f"{words} ({n})." for n in range(30))
    document = pdf([f"Page {p}. {body}" for p in range(args.pages)], title="A long manual")
    with tempfile.TemporaryDirectory(prefix="fair-") as scratch:
        server = start_embedded(Path(scratch) / "pg")
        try:
            with database(server.get_uri(), "fair") as url:
                env = {"DATABASE_URL": url, "DATA_DIR": scratch, "MAX_UPLOAD_MB": "50", **TEST_ENV}
                with serve(env) as base, httpx.Client(base_url=base, headers=AUTH, timeout=60) as c:
                    figures = _run(c, base, document, args.small)
        finally:
            server.cleanup()
    figures["pages"] = args.pages
    print(json.dumps(figures))


def _run(client: httpx.Client, base: str, document: bytes, small: int) -> dict[str, object]:
    events = _Events(base)
    try:
        started = time.monotonic()
        files = {"file": ("manual.pdf", document, "application/pdf")}
        long_id = client.post("/api/documents", files=files).json()["document"]["id"]
        until(lambda: _status(client, long_id) == "processing", 60, "the PDF to be claimed")
        ids = []
        for n in range(small):
            text = f"Note {n}: inverters turn direct current into alternating current.".encode()
            response = client.post("/api/documents", files={"file": (f"n{n}.txt", text)})
            ids.append(response.json()["document"]["id"])
        ready: dict[str, float] = {}

        def all_ready() -> bool:
            for i in [*ids, long_id]:
                if i not in ready and _status(client, i) in ("ready", "failed"):
                    ready[i] = round(time.monotonic() - started, 2)
            return len(ready) == small + 1

        until(all_ready, 1800, "every document", every=0.1)
        stamps = [e["at"] for e in list(events.events) if e.get("id") == long_id and "stage" in e]
    finally:
        events.close()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return {
        "small_ready_s": [ready[i] for i in ids],
        "long_ready_s": ready[long_id],
        "progress_events": len(stamps),
        "longest_progress_gap_s": round(max(gaps, default=0.0), 2),
    }


if __name__ == "__main__":
    main()
