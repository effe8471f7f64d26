"""The documents page's sources, in a real browser: add a folder under SOURCE_ROOTS, watch it
sync, sync again after an edit, delete it with its documents; a refused source is explained;
editors are not offered folders; an answer citing an edited passage says it changed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.auth.people import PASSWORD, make_person
from tests.helpers import AUTH, parse_sse
from tests.ui_browser import PHONE, axe_source, browser, new_page, screenshot, serious_violations

GUIDE = (
    "# River guide\n\nHerons eat fish and frogs along the river bank, standing still for hours.\n"
)
EDITED = "# River guide\n\nHerons now hunt voles in the meadows behind the new dam.\n"
OTTERS = "# Otters\n\nOtters play in the water at dusk and sleep in holts.\n"


@pytest.fixture
def river(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder under SOURCE_ROOTS (read by the server and its worker when they need it)."""
    root = tmp_path / "roots"
    folder = root / "river"
    folder.mkdir(parents=True)
    (folder / "guide.md").write_text(GUIDE)
    (folder / "otters.md").write_text(OTTERS)
    monkeypatch.setenv("SOURCE_ROOTS", str(root))
    return folder


def _count(page, name: str, count: str) -> str:
    return page.inner_text(f"#synced-sources li[data-name={name}] [data-count={count}]")


def _wait_synced(page, name: str) -> None:
    page.wait_for_selector(f"#synced-sources li[data-name={name}][data-state=ready]")


def test_add_sync_and_delete_a_folder_source(live_server, river: Path):
    axe = axe_source()
    with browser() as launched:
        page = new_page(launched, f"{live_server}/documents")
        page.wait_for_selector("#synced-sources li.empty")
        page.click("#add-source")
        page.check("#source-form input[name=kind][value=folder]")
        assert page.is_visible("#source-path") and not page.is_visible("#source-url")
        # Refused by the server (outside SOURCE_ROOTS): said beside the form, nothing added.
        page.fill("#source-name", "outside")
        page.fill("#source-path", str(river.parent.parent))
        page.click("#source-form button[type=submit]")
        page.wait_for_selector("#source-form-error:has-text('not under SOURCE_ROOTS')")
        assert page.locator("#synced-sources li.synced").count() == 0
        assert serious_violations(page, axe) == [], "the add form"
        screenshot(page, "sources-form-desktop-light")

        page.fill("#source-name", "river")
        page.fill("#source-path", str(river))
        page.click("#source-form button[type=submit]")
        _wait_synced(page, "river")
        assert page.is_hidden("#source-form")
        assert _count(page, "river", "added") == "2" and _count(page, "river", "changed") == "0"
        page.wait_for_selector("#document-list li:has-text('River guide')")
        page.wait_for_selector("#document-list li:has-text('Otters')")

        # An answer citing the guide, before the guide is edited.
        with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
            events = parse_sse(
                http.post("/api/chat", json={"question": "What do herons eat?"}).text
            )
        conversation = events[0][1]["conversation_id"]

        (river / "guide.md").write_text(EDITED)
        (river / "kingfishers.md").write_text("# Kingfishers\n\nKingfishers dive for minnows.\n")
        page.click("#synced-sources li[data-name=river] button.sync-now")
        screenshot(page, "sources-syncing-desktop-light")  # "Syncing…" while it lasts
        page.wait_for_function(
            "document.querySelector('#synced-sources li[data-name=river] [data-count=changed]')"
            "?.textContent === '1'"
        )
        _wait_synced(page, "river")
        assert _count(page, "river", "added") == "1" and _count(page, "river", "unchanged") == "1"
        page.wait_for_selector("#toast.show:has-text('Synced river')")
        page.wait_for_selector("#document-list li:has-text('Kingfishers')")
        assert serious_violations(page, axe) == [], "the sources list"
        screenshot(page, "sources-desktop-light", full_page=True)

        for viewport, scheme, name in (
            (None, "dark", "desktop-dark"),
            (PHONE, "light", "phone-light"),
            (PHONE, "dark", "phone-dark"),
        ):
            options = {"color_scheme": scheme} | ({"viewport": viewport} if viewport else {})
            other = new_page(launched, f"{live_server}/documents", **options)
            _wait_synced(other, "river")
            other.locator("#synced-panel").scroll_into_view_if_needed()
            other.evaluate("document.getElementById('synced-panel').scrollIntoView()")
            screenshot(other, f"sources-{name}")
            other.click("#add-source")
            if viewport:
                assert other.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            assert serious_violations(other, axe) == [], name
            screenshot(other, f"sources-form-{name}")
            assert other.js_errors == []
            other.context.close()

        # The stored answer's citation of the edited passage: "changed", not the new text.
        chat = new_page(launched, f"{live_server}/?c={conversation}")
        chat.wait_for_selector(".turn[data-done=true] .source-chip.changed")
        chat.click(".turn .source-chip.changed")
        chat.wait_for_selector("#passage .passage-changed:has-text('changed since this answer')")
        assert "fish and frogs" in chat.inner_text("#passage")  # what it read then, labelled
        assert "voles" not in chat.inner_text("#passage")
        assert serious_violations(chat, axe) == [], "a changed citation"
        screenshot(chat, "citation-changed-desktop-light")
        assert chat.js_errors == []

        # Delete: the dialog asks about the documents; the first time the person cancels.
        page.click("#synced-sources li[data-name=river] button.delete")
        page.wait_for_selector("#source-delete-dialog[open]")
        assert "3 documents" in page.inner_text("#source-delete-dialog")
        assert serious_violations(page, axe) == [], "the delete dialog"
        screenshot(page, "sources-delete-dialog")
        page.keyboard.press("Escape")
        page.wait_for_selector("#source-delete-dialog", state="hidden")
        assert page.locator("#synced-sources li[data-name=river]").count() == 1
        page.click("#synced-sources li[data-name=river] button.delete")
        assert page.is_checked("#source-drop-documents")
        page.click("#source-delete-confirm")
        page.wait_for_selector("#synced-sources li.empty")
        page.wait_for_selector("#document-list li.empty")
        assert page.js_errors == []
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        assert http.get("/api/sources").json()["sources"] == []
        assert http.get("/api/documents").json()["documents"] == []


def test_an_editor_is_not_offered_folder_sources(settings, live_server, river: Path):
    editor = make_person(settings.database_url, "editor@example.org", "editor")
    with browser() as launched:
        page = new_page(launched, f"{live_server}/login", signed_in=False)
        page.fill("#email", editor.email)
        page.fill("#password", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#signed-in-as:has-text('editor')")
        page.goto(f"{live_server}/documents")
        page.wait_for_selector("#synced-sources li.empty")
        page.click("#add-source")
        assert page.locator("#source-form input[name=kind][value=folder]").count() == 0
        assert page.locator("#source-path").count() == 0
        kinds = page.eval_on_selector_all(
            "#source-form input[name=kind]", "inputs => inputs.map(i => i.value)"
        )
        assert kinds == ["web", "s3"]
        page.check("#source-form input[name=kind][value=s3]")
        assert page.get_attribute("#source-form [name=secret_access_key]", "type") == "password"
        page.evaluate("document.getElementById('synced-panel').scrollIntoView()")
        screenshot(page, "sources-form-s3-editor")
        assert page.js_errors == []


def test_a_reader_sees_no_sources_panel(settings, live_server):
    reader = make_person(settings.database_url, "reader@example.org", "reader")
    with browser() as launched:
        page = new_page(launched, f"{live_server}/login", signed_in=False)
        page.fill("#email", reader.email)
        page.fill("#password", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#signed-in-as:has-text('reader')")
        page.goto(f"{live_server}/documents")
        page.wait_for_selector("#document-list li.empty")
        assert page.locator("#synced-panel").count() == 0
        assert page.js_errors == []
