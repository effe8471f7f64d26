"""GET /api/documents/events: status and progress over SSE, fed by NOTIFY."""

import json
import os
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.helpers import AUTH, SOLAR_GUIDE


def read_events(lines: Iterator[str], until: Callable) -> list[tuple[str, dict]]:
    """Named events from the lines of an open SSE response until `until(event, data)`."""
    events: list[tuple[str, dict]] = []
    name = "message"
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = json.loads(line[5:])
            events.append((name, data))
            if until(name, data):
                return events
    raise AssertionError(f"the stream ended early: {events}")


def test_upload_streams_queued_processing_progress_and_ready(live_server):
    with (
        httpx.Client(base_url=live_server, timeout=120, headers=AUTH) as client,
        client.stream("GET", "/api/documents/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        read_events(lines, lambda name, _: name == "listening")
        response = client.post("/api/documents", files={"file": ("solar.md", SOLAR_GUIDE)})
        document_id = response.json()["document"]["id"]
        events = read_events(
            lines, lambda name, data: name == "status" and data["status"] == "ready"
        )
    mine = [(name, data) for name, data in events if data.get("id") == document_id]
    statuses = [data["status"] for name, data in mine if name == "status"]
    assert statuses == ["queued", "processing", "ready"]
    progress = [data for name, data in mine if name == "progress"]
    embedded = [data for data in progress if data["stage"] == "embedding"]
    assert embedded and embedded[-1]["done"] == embedded[-1]["total"] == 2
    assert progress[-1]["stage"] == "storing"  # then the chunks are written
    assert mine[-1][1]["chunk_count"] == 2 and mine[-1][1]["title"] == "Solar Panels Guide"


def test_failed_documents_stream_their_error(live_server):
    with (
        httpx.Client(base_url=live_server, timeout=120, headers=AUTH) as client,
        client.stream("GET", "/api/documents/events") as stream,
    ):
        lines = stream.iter_lines()
        read_events(lines, lambda name, _: name == "listening")
        client.post("/api/documents", files={"file": ("scan.pdf", b"%PDF-1.4 nothing here")})
        events = read_events(
            lines, lambda name, data: name == "status" and data["status"] == "failed"
        )
    assert "scan.pdf" in events[-1][1]["error"]


def test_a_scan_streams_progress_page_by_page_as_ocr_reads_it(live_server):
    from app.ingest.formats import ocr
    from tests import files

    if "eng" not in ocr.installed_languages() and not os.environ.get("CI"):
        pytest.skip(f"OCR language data missing: {ocr.INSTALL}")
    scan = files.scanned_pdf([["Page one of the scan"], ["Page two"], ["Page three"]])
    with (
        httpx.Client(base_url=live_server, timeout=120, headers=AUTH) as client,
        client.stream("GET", "/api/documents/events") as stream,
    ):
        lines = stream.iter_lines()
        read_events(lines, lambda name, _: name == "listening")
        response = client.post("/api/documents", files={"file": ("scan.pdf", scan)})
        document_id = response.json()["document"]["id"]
        events = read_events(
            lines, lambda name, data: name == "status" and data["status"] == "ready"
        )
    pages = [
        (data["done"], data["total"])
        for name, data in events
        if name == "progress" and data.get("id") == document_id and data["stage"] == "ocr"
    ]
    assert pages == [(1, 3), (2, 3), (3, 3)]
