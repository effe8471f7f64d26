"""Fair ingestion, through real uploads: a long PDF never holds small files back, and it
reports its progress (pages parsed, passages embedded) on the document events."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from tests.fake_llm import FakeLLM
from tests.faults.scenarios import app_env, database, serve, until
from tests.files import pdf
from tests.helpers import AUTH

PAGES = 120


def _long_pdf() -> bytes:
    words = "solar panels convert light into power and batteries keep it for the night"
    page = " ".join(f"{words} ({n})." for n in range(40))
    return pdf([f"Page {p}. {page}" for p in range(PAGES)], title="A long manual")


class _Events:
    """The document events SSE stream, read in a thread."""

    def __init__(self, base: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(base,), daemon=True)
        self._thread.start()
        assert self.listening.wait(30), "the event stream never started"

    def _read(self, base: str) -> None:
        with (
            httpx.Client(base_url=base, headers=AUTH, timeout=None) as client,
            client.stream("GET", "/api/documents/events") as response,
        ):
            for line in response.iter_lines():
                if line.startswith("event: listening"):
                    self.listening.set()
                elif line.startswith("data: ") and line != "data: {}":
                    event = json.loads(line[len("data: ") :])
                    self.events.append({**event, "at": time.monotonic()})
                if self._stop.is_set():
                    return

    def progress(self, document_id: str, stage: str) -> list[tuple[int, int]]:
        return [
            (e["done"], e["total"])
            for e in list(self.events)
            if e.get("type") == "progress" and e["id"] == document_id and e["stage"] == stage
        ]

    def close(self) -> None:
        self._stop.set()


def _status(client: httpx.Client, document_id: str) -> str:
    return client.get(f"/api/documents/{document_id}").json()["document"]["status"]


def test_small_files_are_ready_before_a_long_pdf_finishes_and_it_reports_progress(
    postgres_url, tmp_path
):
    # A database of its own: the shared one may hold vectors of another model.
    # Every model call takes 0.3 s: the long PDF needs many, each small batch one.
    with database(postgres_url, "fair") as url, FakeLLM(embed_seconds=0.3) as upstream:
        env = app_env(url, tmp_path, upstream, MAX_UPLOAD_MB="20")
        with serve(env) as base, httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
            events = _Events(base)
            try:
                files = {"file": ("manual.pdf", _long_pdf(), "application/pdf")}
                response = client.post("/api/documents", files=files)
                assert response.status_code == 202, response.text
                long_id = response.json()["document"]["id"]
                until(lambda: _status(client, long_id) == "processing", 60, "the long PDF")
                small = []
                for n in range(5):
                    text = f"Note {n}: inverters turn direct current into alternating current."
                    response = client.post(
                        "/api/documents", files={"file": (f"note{n}.txt", text.encode())}
                    )
                    assert response.status_code == 202, response.text
                    small.append(response.json()["document"]["id"])

                def small_ones_ended() -> bool:
                    return all(_status(client, i) in ("ready", "failed") for i in small)

                until(small_ones_ended, 120, "the small files", every=0.1)
                long_status = _status(client, long_id)
                assert [_status(client, i) for i in small] == ["ready"] * 5
                assert long_status == "processing", "the small files waited for the long PDF"
                until(lambda: _status(client, long_id) == "ready", 300, "the long PDF", every=0.2)
                time.sleep(0.5)  # the last events are on their way
            finally:
                events.close()
    parsing = events.progress(long_id, "parsing")
    embedding = events.progress(long_id, "embedding")
    # Pages parsed out of all of them, more than once and in order, up to the last page.
    assert {total for _, total in parsing} == {PAGES}, parsing
    assert len(parsing) >= 2 and parsing == sorted(parsing) and parsing[-1] == (PAGES, PAGES)
    # Passages embedded, group by group, up to all of them.
    assert len(embedding) >= 3, embedding
    assert embedding == sorted(embedding) and embedding[-1][0] == embedding[-1][1]
    assert events.progress(long_id, "storing"), "no storing stage"
