"""Uploading a file whose name is already in the collection, in a real browser: the page asks
"Replace the existing document / Keep both" and sends replace=true (a multipart form field) only
when the person chose to replace; cancelling uploads nothing; a new name is not asked about."""

from __future__ import annotations

import httpx

from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.ui_browser import PHONE, axe_source, browser, new_page, screenshot, serious_violations

RECORD_UPLOADS = """
window.uploads = [];
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  if (body instanceof FormData) {
    const fields = [...body.entries()].map(([k, v]) => [k, typeof v === "string" ? v : v.name]);
    window.uploads.push(Object.fromEntries(fields));
  }
  return send.call(this, body);
};
"""
NEWER = SOLAR_GUIDE.replace("twice a year", "every spring and autumn")


def _file(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "text/markdown", "buffer": text.encode()}


def test_an_upload_of_a_name_already_there_asks_replace_or_keep_both(live_server):
    axe = axe_source()
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    with browser() as launched:
        page = new_page(launched, f"{live_server}/documents")
        page.wait_for_selector("#document-list li[data-status=ready]")
        # What each upload's form carried, read in the page as it leaves.
        page.add_init_script(RECORD_UPLOADS)
        page.reload()
        page.wait_for_selector("#document-list li[data-status=ready]")

        def sent() -> list[dict]:
            return page.evaluate("window.uploads")

        page.set_input_files("#file-input", files=[_file("solar.md", NEWER)])
        page.wait_for_selector("#replace-dialog[open]")
        assert "“solar.md” is already in “default”" in page.inner_text("#replace-dialog")
        assert page.is_visible("text=Replace the existing document")
        assert page.is_visible("text=Keep both")
        assert serious_violations(page, axe) == []
        screenshot(page, "replace-desktop-light")
        page.click("#replace-confirm")
        page.wait_for_selector("#upload-list li[data-state=ready]")
        assert sent() == [{"file": "solar.md", "collection": "default", "replace": "true"}]

        # Keep both: the upload goes as it always did, without the field.
        page.set_input_files("#file-input", files=[_file("solar.md", NEWER + "\nMore.\n")])
        page.wait_for_selector("#replace-dialog[open]")
        page.click("#replace-keep")
        page.wait_for_selector("#upload-list li[data-state=ready] >> nth=1")
        assert sent()[1] == {"file": "solar.md", "collection": "default"}

        # Changing one's mind (Escape): nothing is sent, the row says so.
        page.set_input_files("#file-input", files=[_file("solar.md", "# Solar\n\nThird.\n")])
        page.wait_for_selector("#replace-dialog[open]")
        page.keyboard.press("Escape")
        page.wait_for_selector("#upload-list li[data-state=cancelled]:has-text('Not uploaded')")
        assert len(sent()) == 2

        # A name not in the collection is not asked about.
        page.set_input_files("#file-input", files=[_file("wind.md", "# Wind\n\nTurbines turn.\n")])
        page.wait_for_selector("#upload-list li[data-state=ready]:has-text('wind.md')")
        assert len(sent()) == 3 and page.is_hidden("#replace-dialog")
        assert page.js_errors == []

        phone = new_page(launched, f"{live_server}/documents", viewport=PHONE, color_scheme="dark")
        phone.wait_for_selector("#document-list li[data-status=ready]")
        phone.set_input_files("#file-input", files=[_file("wind.md", "# Wind\n\nCalm.\n")])
        phone.wait_for_selector("#replace-dialog[open]")
        assert serious_violations(phone, axe) == []
        screenshot(phone, "replace-phone-dark")
        assert phone.js_errors == []
