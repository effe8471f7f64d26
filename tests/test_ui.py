"""The web UI in a real browser: user journeys, each ending in what the page shows."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.asgi import Application
from tests.auth.people import PASSWORD, make_person, run_sql
from tests.conftest import run_server, settings_with
from tests.files import docx_file, pdf
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.ui_browser import DESKTOP, PHONE, browser, new_page, screenshot

BATTERY_NOTES = """# Battery Storage Notes

## Capacity

A typical home battery stores 13.5 kilowatt hours of energy.
Lithium iron phosphate cells last for about 6000 charge cycles.
"""

DROP_FILES = """async ({files, target}) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, {type: f.type}));
  }
  const zone = document.getElementById(target || "drop-zone");
  for (const type of ["dragenter", "dragover", "drop"]) {
    const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
    zone.dispatchEvent(new DragEvent(type, init));
  }
}"""


def _file(name: str, data: bytes, media_type: str) -> dict[str, str]:
    return {"name": name, "data": base64.b64encode(data).decode(), "type": media_type}


def test_drop_three_formats_and_watch_them_become_ready(live_server):
    files = [
        _file("solar.md", SOLAR_GUIDE.encode(), "text/markdown"),
        _file("battery.pdf", pdf([BATTERY_NOTES.replace("#", "")], title="untitled"), ""),
        _file(
            "wind.docx",
            docx_file("Wind turbines", {"Output": "A turbine of 3 MW powers 1500 homes."}),
            "",
        ),
    ]
    with browser() as launched:
        page = new_page(launched, f"{live_server}/documents")
        page.wait_for_selector("#collection option", state="attached")
        page.evaluate(DROP_FILES, {"files": files})
        page.wait_for_function(
            "document.querySelectorAll('.upload[data-state=ready]').length === 3"
        )
        page.wait_for_selector("#document-list li[data-status=ready] >> nth=2")
        listing = page.inner_text("#document-list")
        assert "Solar Panels Guide" in listing
        # A PDF titled 'untitled' shows under its file name.
        assert "battery.pdf" in listing and "untitled" not in listing.lower()
        page.wait_for_selector("#status-filter button:has-text('ready (3)')")
        screenshot(page, "documents-desktop-light", full_page=True)
        assert page.js_errors == []


def test_first_visit_drop_a_file_on_the_chat_and_ask(live_server):
    with browser() as launched:
        page = new_page(launched, live_server)
        page.wait_for_selector("#no-documents", state="visible")
        files = [_file("solar.md", SOLAR_GUIDE.encode(), "text/markdown")]
        page.evaluate(DROP_FILES, {"files": files, "target": "messages"})
        page.wait_for_selector(".upload[data-state=ready]")
        assert "Solar Panels Guide" in page.inner_text("#chat-uploads")
        page.wait_for_selector("#no-documents", state="hidden")
        page.fill("#question", "How efficient are monocrystalline panels?")
        page.press("#question", "Enter")
        page.wait_for_selector(".turn[data-done=true]")
        assert "22 percent" in page.inner_text(".answer")
        assert page.js_errors == []


def test_ask_see_tokens_arrive_and_open_the_cited_sentence(settings, fake_llm):
    fake_llm.answer = [
        "Batteries store about 13.5 kilowatt hours [2].",
        " Monocrystalline panels convert about 22 percent of sunlight [1].",
    ]
    fake_llm.hold_last = threading.Event()
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with run_server(configured) as url, browser() as launched:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "solar.md", SOLAR_GUIDE)
            ingest(http, "battery.md", BATTERY_NOTES)
        page = new_page(launched, url)
        page.fill("#question", "How much do batteries store, and how efficient are panels?")
        page.press("#question", "Enter")
        page.wait_for_selector(".answer.streaming:has-text('kilowatt')")  # tokens arrive
        assert page.locator(".turn[data-done=true]").count() == 0
        fake_llm.hold_last.set()
        page.wait_for_selector(".turn[data-done=true]")
        assert page.locator(".answer button.cite").count() == 2
        source_two = page.evaluate(
            "document.querySelector('.answer button.cite[data-n=\"2\"]').getAttribute('aria-label')"
        )
        page.click(".answer button.cite[data-n='2']")
        page.wait_for_selector("#passage mark")
        highlighted = page.inner_text("#passage mark")
        title = source_two.split(": ", 1)[1]
        assert title in page.inner_text("#passage .passage-title")
        if "Battery" in title:
            assert "13.5 kilowatt hours" in highlighted
        else:
            assert "22 percent" in highlighted
        assert page.get_attribute("#passage .open-original", "href").endswith("/file")
        screenshot(page, "chat-desktop-light")
        assert page.js_errors == []


def test_stop_cancels_the_answer_and_the_upstream_llm(settings, fake_llm):
    fake_llm.token_seconds = 0.05
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow")
    with run_server(configured) as url, browser() as launched:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "solar.md", SOLAR_GUIDE)
        page = new_page(launched, url)
        page.fill("#question", "How efficient are the panels?")
        page.click("#ask-button")
        page.wait_for_selector(".answer.streaming:has-text('word word')")
        page.keyboard.press("Escape")
        page.wait_for_selector(".turn[data-stopped=true]")
        assert "Stopped" in page.inner_text(".turn .notices")
        assert page.is_visible("#ask-button") and not page.is_visible("#stop-button")
        assert fake_llm.wait_closed(1)


def test_reload_keeps_the_chat_then_rename_and_delete_it(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    with browser() as launched:
        page = new_page(launched, live_server)
        for question in ("How efficient are monocrystalline panels?", "How often clean them?"):
            page.fill("#question", question)
            page.press("#question", "Enter")
            page.wait_for_selector(f".turn:has-text('{question}')[data-done=true]")
        # the newest answer is scrolled into view
        assert page.evaluate(
            "(() => { const m = document.getElementById('messages');"
            " return m.scrollHeight - m.scrollTop - m.clientHeight < 40; })()"
        )
        page.reload()
        page.wait_for_selector(".turn[data-done=true] >> nth=1")
        assert "22 percent" in page.inner_text(".turn >> nth=0")
        assert page.locator(".answer button.cite").count() >= 1  # rendered, not raw text

        page.once("dialog", lambda dialog: dialog.accept())
        item = page.locator("#conversation-list li.current")
        item.hover()
        item.locator("button.rename").click()
        page.fill(".rename-input", "Solar questions")
        page.press(".rename-input", "Enter")
        page.wait_for_selector("#conversation-list li:has-text('Solar questions')")
        page.fill("#conversation-search", "solar q")
        page.wait_for_function(
            "document.querySelectorAll('#conversation-list li[data-id]').length === 1"
        )
        item = page.locator("#conversation-list li:has-text('Solar questions')")
        item.hover()
        item.locator("button.delete").click()
        page.wait_for_selector("#empty-state")
        page.fill("#conversation-search", "")
        page.wait_for_selector("#conversation-list li:has-text('No conversations yet')")


def test_thumbs_down_with_a_comment_is_stored_and_listed_for_the_admin(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
        with browser() as launched:
            page = new_page(launched, live_server)
            page.fill("#question", "How often should panels be cleaned?")
            page.press("#question", "Enter")
            page.wait_for_selector(".turn[data-done=true]")
            page.click("button[aria-label='Not helpful']")
            page.fill(".feedback-form textarea", "It should mention pollen.")
            page.click(".feedback-form button[type=submit]")
            page.wait_for_selector("button[aria-label='Not helpful'][aria-pressed=true]")
            page.goto(f"{live_server}/admin")
            row = page.locator("#feedback-list tr.feedback").first
            row.wait_for()
            assert "It should mention pollen." in row.inner_text()
            assert "not helpful" in row.inner_text()
            assert "How often should panels be cleaned?" in row.inner_text()
            assert page.js_errors == []
        feedback = http.get("/api/feedback").json()["feedback"]
    assert feedback[0]["rating"] == -1 and feedback[0]["comment"] == "It should mention pollen."
    assert feedback[0]["question"] == "How often should panels be cleaned?"


def test_phone_in_dark_theme(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    with browser() as launched:
        page = new_page(launched, live_server, viewport=PHONE, color_scheme="dark")
        page.fill("#question", "How efficient are monocrystalline solar panels?")
        page.press("#question", "Enter")
        page.wait_for_selector(".turn[data-done=true]")
        # nothing wider than the phone, and the sidebar folds away behind its button
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert not page.is_visible("#sidebar")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 19, 24)"
        screenshot(page, "chat-mobile-dark")
        page.click(".answer button.cite")
        page.wait_for_selector("#passage mark")
        assert page.is_visible("#sources-panel")
        page.wait_for_function(  # slid in completely
            "document.getElementById('sources-panel').getBoundingClientRect().left <= 1"
        )
        assert not page.inner_text("#passage .passage-text").startswith("#")
        screenshot(page, "citation-mobile-dark")
        page.keyboard.press("Escape")
        page.wait_for_selector("#sources-panel", state="hidden")
        page.click("#toggle-sidebar")
        page.wait_for_selector("#sidebar .conversation-link", state="visible")
        page.goto(f"{live_server}/documents")
        page.wait_for_selector("#document-list li[data-status=ready]")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "documents-mobile-dark", full_page=True)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_passes_axe_without_serious_violations(live_server, viewport):
    from tests.ui_browser import axe_source, serious_violations

    source = axe_source()
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    with browser() as launched:
        for scheme in ("light", "dark"):
            page = new_page(launched, live_server, viewport=viewport, color_scheme=scheme)
            page.fill("#question", "How efficient are monocrystalline solar panels?")
            page.press("#question", "Enter")
            page.wait_for_selector(".turn[data-done=true]")
            page.click(".answer button.cite")
            page.wait_for_selector("#passage mark")
            assert serious_violations(page, source) == [], f"chat, {scheme}"
            shape = "desktop" if viewport == DESKTOP else "phone"
            screenshot(page, f"cited-{shape}-{scheme}")
            page.goto(f"{live_server}/documents")
            page.wait_for_selector("#document-list li[data-status]")
            assert serious_violations(page, source) == [], f"documents, {scheme}"
            page.goto(f"{live_server}/no-such-page")
            assert serious_violations(page, source) == [], f"error page, {scheme}"
            page.goto(f"{live_server}/account")
            page.wait_for_selector("#key-list tr")
            assert serious_violations(page, source) == [], f"account, {scheme}"
            page.goto(f"{live_server}/admin")
            page.wait_for_selector("#collection-list tr")
            page.wait_for_selector("#feedback-list tr")
            assert serious_violations(page, source) == [], f"admin, {scheme}"
            signed_out = new_page(
                launched,
                f"{live_server}/login",
                viewport=viewport,
                color_scheme=scheme,
                signed_in=False,
            )
            assert serious_violations(signed_out, source) == [], f"login, {scheme}"


def test_first_run_creates_the_admin_and_lands_signed_in_on_the_chat(settings):
    run_sql(settings.database_url, "DELETE FROM users")  # an empty site: no one yet
    with run_server(settings) as url, browser() as launched:
        page = new_page(launched, url, signed_in=False)
        page.wait_for_url(f"{url}/setup")
        page.fill("#email", "first@example.org")
        page.fill("#password", "first admin password")
        page.click("#setup-form button")
        page.wait_for_selector("#signed-in-as:has-text('first@example.org')")
        assert "admin" in page.inner_text("#signed-in-as")
        assert page.url == f"{url}/"
        page.wait_for_selector("#question")  # the chat page
        assert page.locator("nav a[href='/admin']").count() == 1
        page.goto(f"{url}/setup")  # once there is an admin, setup is over
        assert page.url.startswith(f"{url}/") and not page.url.endswith("/setup")
        assert page.js_errors == []


UPLOAD_CONTROLS = ".drop-zone, input[type=file], #url-form, #new-collection"


def test_a_reader_who_cannot_upload_sees_no_upload_control(settings, live_server):
    reader = make_person(settings.database_url, "reader@example.org", "reader")
    with browser() as launched:
        page = new_page(launched, f"{live_server}/login", signed_in=False)
        page.fill("#email", reader.email)
        page.fill("#password", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#signed-in-as:has-text('reader')")
        page.wait_for_selector("#no-documents", state="visible")  # the chat, with no documents
        assert "shared with you" in page.inner_text("#no-documents")
        assert page.locator(UPLOAD_CONTROLS).count() == 0
        page.goto(f"{live_server}/documents")
        page.wait_for_selector("#collection option", state="attached")
        assert page.locator(UPLOAD_CONTROLS).count() == 0
        assert page.js_errors == []


def test_upload_error_is_shown_in_words(live_server, tmp_path: Path):
    with browser() as launched:
        page = new_page(launched, f"{live_server}/documents")
        bad = tmp_path / "archive.rar"  # spreadsheets are a format now: a RAR is not
        bad.write_bytes(b"Rar!\x1a\x07\x00")
        page.set_input_files("#file-input", str(bad))
        page.wait_for_selector(".upload[data-state=failed]")
        assert "not a supported file type" in page.inner_text(".upload-state")


def test_unsupported_citations_are_marked(settings, fake_llm):
    fake_llm.answer = [
        "Panels convert about 22 percent of sunlight [1].",
        " The football world cup of 1998 was won by France [1].",
    ]
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with run_server(configured) as url, browser() as launched:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "solar.md", SOLAR_GUIDE)
        page = new_page(launched, url)
        page.fill("#question", "How efficient are monocrystalline solar panels?")
        page.click("#ask-button")
        page.wait_for_selector(".turn[data-done=true]")
        assert page.locator(".answer button.cite").count() == 2
        flagged = page.locator(".answer button.cite.unsupported")
        assert flagged.count() == 1
        assert "does not seem" in flagged.get_attribute("title")
        assert "does not seem to say" in page.inner_text(".turn .notices")


@contextlib.contextmanager
def serve_on(settings, port: int) -> Iterator[str]:
    """The app on a given port (so it can be restarted there); running streams are cut when
    it stops, as when a server is restarted under a reader."""
    server = uvicorn.Server(
        uvicorn.Config(
            Application(settings, local=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_server_restart_mid_answer_resumes_and_offers_retry(settings, fake_llm):
    fake_llm.token_seconds = 0.05
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="slow")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with browser() as launched:
        with serve_on(configured, port) as url:
            with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
                ingest(http, "solar.md", SOLAR_GUIDE)
            page = new_page(launched, url)
            page.fill("#question", "How efficient are the panels?")
            page.press("#question", "Enter")
            page.wait_for_selector(".answer.streaming:has-text('word word word')")
        # the server is down: the page keeps what it had and tries again until it is back
        with serve_on(configured, port):
            page.wait_for_selector(".turn[data-interrupted=true]", timeout=90_000)
            turn = page.inner_text(".turn")
            assert "word word word" in turn  # what arrived before the restart is kept
            assert "interrupted" in turn.lower() or "closed before" in turn.lower()
            assert page.locator(".turn[data-resumed=true]").count() == 1
            page.click(".turn button.retry")
            page.wait_for_selector(".turn >> nth=1")
            assert page.locator(".turn").nth(1).inner_text().startswith("How efficient")


def test_a_stopped_answer_reloads_as_interrupted_and_retry_completes_it(settings, fake_llm):
    from tests.ui_browser import axe_source, serious_violations

    fake_llm.hold_last = threading.Event()  # the answer waits before its last piece
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with run_server(configured) as url, browser() as launched:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "solar.md", SOLAR_GUIDE)
        page = new_page(launched, url)
        page.fill("#question", "How efficient are the panels?")
        page.press("#question", "Enter")
        page.wait_for_selector(".answer.streaming:has-text('of sunlight')")
        page.click("#stop-button")
        page.wait_for_selector(".turn[data-stopped=true]")
        fake_llm.hold_last.set()  # answers finish from now on
        # Reloaded, the stopped answer is what arrived, said to be interrupted, with Retry.
        page.wait_for_function("new URLSearchParams(location.search).has('c')")
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            conversation_id = page.evaluate("new URLSearchParams(location.search).get('c')")

            def stored() -> bool:
                messages = http.get(f"/api/conversations/{conversation_id}").json()
                return len(messages["conversation"]["messages"]) == 2

            deadline = time.monotonic() + 30
            while not stored():  # the server stores it as the stopped request ends
                assert time.monotonic() < deadline, "the stopped answer was not stored"
                time.sleep(0.05)
        page.reload()
        page.wait_for_selector(".turn[data-interrupted=true]")
        turn = page.locator(".turn").first
        assert "of sunlight" in turn.locator(".answer").inner_text()
        assert "Answer interrupted" in turn.locator(".notices").inner_text()
        assert page.locator(".turn[data-done=true]").count() == 0
        assert serious_violations(page, axe_source()) == []
        screenshot(page, "interrupted-answer")
        turn.locator("button.retry").click()
        page.wait_for_selector(".turn[data-done=true]")
        retried = page.locator(".turn").nth(1)
        assert retried.locator(".answer").inner_text().startswith("Monocrystalline panels convert")
        assert "[1]" in fake_llm.answer[-1] and retried.locator("button.cite").count() == 1
        # Reloaded again: the cut answer still says so, but its retry is the turn after it.
        page.reload()
        page.wait_for_selector(".turn[data-done=true]")
        assert "Answer interrupted" in page.locator(".turn").first.inner_text()
        assert page.locator(".turn button.retry").count() == 0
        assert page.js_errors == []


def test_reload_keeps_the_extractive_label_and_the_declined_notice(live_server):
    """Issue 20: after a reload an old extractive answer still says what it was, and a
    declined one still says the documents did not answer."""
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    questions = ("How often should the panels be cleaned?", "What is the daily dose of vitamin D?")
    with browser() as launched:
        page = new_page(launched, live_server)
        for question in questions:
            page.fill("#question", question)
            page.press("#question", "Enter")
            page.wait_for_selector(f".turn:has-text('{question}')[data-done=true]")
        live = [page.inner_text(f".turn >> nth={i}").lower() for i in (0, 1)]
        page.reload()
        page.wait_for_selector(".turn[data-done=true] >> nth=1")
        reloaded = [page.inner_text(f".turn >> nth={i}").lower() for i in (0, 1)]
    for text in (*live, *reloaded):  # (the label is shown in capitals)
        assert "extractive answer" in text and "no language model is configured" in text
    for text in (live[1], reloaded[1]):
        assert "not answered from your documents" in text
    assert "not answered" not in reloaded[0]
