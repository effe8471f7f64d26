"""The sources panel says when a passage was recognised from a scan (issue 24)."""

from __future__ import annotations

import os

import httpx
import pytest

from app.ingest.formats import ocr
from tests import files
from tests.helpers import AUTH, ingest
from tests.ui_browser import browser, new_page

pytestmark = pytest.mark.skipif(
    "eng" not in ocr.installed_languages() and not os.environ.get("CI"),
    reason=f"OCR language data missing: {ocr.INSTALL}",
)


def test_a_passage_read_from_a_scan_says_so_in_the_sources_panel(live_server):
    scan = files.scanned_pdf(
        [["The northern dam of the Eastmarch reservoir", "holds fourteen million cubic metres"]]
    )
    with httpx.Client(base_url=live_server, timeout=120, headers=AUTH) as http:
        ingest(http, "scan.pdf", scan)
    with browser() as launched:
        page = new_page(launched, live_server)
        page.fill("#question", "How much water does the northern dam hold?")
        page.press("#question", "Enter")
        page.wait_for_selector(".turn[data-done=true]")
        page.click(".answer button.cite[data-n='1']")
        page.wait_for_selector("#passage .provenance")
        assert page.inner_text("#passage .provenance").startswith("text recognised from a scan")
        assert "page 1" in page.inner_text("#passage .where")
        assert page.js_errors == []
