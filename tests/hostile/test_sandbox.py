"""Regression tests: parsing ran in the worker's own thread with no time or memory bound.

Each hostile file must end as an IngestError naming the file and the reason, and the
sandbox must parse the next file as if nothing happened.
"""

from __future__ import annotations

import pytest

from app.ingest import sandbox
from app.ingest.formats.base import IngestError
from tests.hostile import corpus

GOOD = (b"<title>Fine</title><p>An ordinary page.</p>", "text/html", "fine.html")


@pytest.fixture
def limited():
    def make(timeout_seconds: float = 60, memory_mb: int = 1024) -> sandbox.Sandbox:
        box = sandbox.Sandbox(sandbox.Limits(timeout_seconds, memory_mb))
        made.append(box)
        return box

    made: list[sandbox.Sandbox] = []
    yield make
    for box in made:
        box.close()


def _refused(box: sandbox.Sandbox, data: bytes, media_type: str, source: str) -> str:
    with pytest.raises(IngestError) as caught:
        box.parse(data, media_type, source)
    message = str(caught.value)
    assert source in message
    assert box.parse(*GOOD).title == "Fine"  # the next file is parsed as usual
    return message


def test_a_pdf_that_outlasts_the_parse_timeout_fails_with_a_message(limited):
    box = limited(timeout_seconds=1)
    message = _refused(box, corpus.pdf_many_pages(4000, ops=300), "application/pdf", "slow.pdf")
    assert "PARSE_TIMEOUT_SECONDS" in message


def test_a_docx_that_inflates_past_the_memory_limit_fails_with_a_message(limited):
    data = corpus.docx_inflating(1_500_000, text=False)
    message = _refused(limited(memory_mb=256), data, corpus.DOCX, "inflating.docx")
    # Under a generous limit the same file parses through to "no text": the limit did it.
    assert "has no text" not in message


def test_a_pdf_with_more_pages_than_anyone_reads_fails_at_once(limited):
    message = _refused(limited(), corpus.pdf_many_pages(5001), "application/pdf", "p.pdf")
    assert "5001 pages" in message


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("recursing.pdf", corpus.pdf_deep_nesting()),
        ("cyclic.pdf", corpus.pdf_huge_page_tree()),
    ],
    ids=["recursing", "cyclic"],
)
def test_a_pdf_built_to_make_pypdf_recurse_or_loop_fails_with_a_message(limited, name, data):
    _refused(limited(timeout_seconds=20), data, "application/pdf", name)


def test_a_child_killed_mid_parse_fails_the_file_and_is_replaced(limited):
    box = limited(timeout_seconds=30)
    first = box._take()
    box._give_back(first)
    first.process.kill()  # as the kernel's OOM killer would
    with pytest.raises(IngestError, match="killed"):
        box.parse(*GOOD)
    assert box.parse(*GOOD).title == "Fine"
