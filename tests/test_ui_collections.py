"""Deleting a collection from the pages: confirmed when it holds documents, refused in words."""

from __future__ import annotations

import httpx

from tests.auth.people import PASSWORD, make_person
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.ui_browser import browser, new_page, screenshot


def test_delete_a_collection_and_its_documents_from_the_documents_page(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE, "manuals")
        ingest(http, "other.md", "# Other\n\nKept where it is.")  # in 'default'
    with browser() as launched:
        page = new_page(launched, f"{live_server}/documents")
        page.wait_for_selector("#collection option[value=manuals]", state="attached")
        page.select_option("#collection", "default")
        page.wait_for_selector("#document-list li[data-status=ready]")
        assert not page.is_visible("#delete-collection")  # 'default' cannot be deleted
        page.select_option("#collection", "manuals")
        page.wait_for_selector("#document-list li:has-text('Solar Panels Guide')")
        questions = []

        def answer(dialog) -> None:
            questions.append(dialog.message)
            # The first time the person changes their mind; the second time they confirm.
            if len(questions) == 1:
                dialog.dismiss()
            else:
                dialog.accept()

        page.on("dialog", answer)
        page.click("#delete-collection")
        page.wait_for_function("document.querySelector('#collection option[value=manuals]')")
        assert "1 document" in questions[0]
        screenshot(page, "documents-delete-collection")
        page.click("#delete-collection")
        page.wait_for_selector("#collection option[value=manuals]", state="detached")
        page.wait_for_selector("#toast.show:has-text('Deleted the collection manuals')")
        assert page.input_value("#collection") == "default"
        page.wait_for_selector("#document-list li:has-text('Other')")
        assert page.js_errors == []
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        names = [c["name"] for c in http.get("/api/collections").json()["collections"]]
        assert names == ["default"]


def test_an_editor_sees_delete_only_on_a_collection_they_own(settings, live_server):
    editor = make_person(settings.database_url, "editor@example.org", "editor")
    with httpx.Client(base_url=live_server, timeout=60, headers=editor.headers) as http:
        assert http.post("/api/collections", json={"name": "mine"}).status_code == 201
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)  # the admin's, in the shared 'default'
    with browser() as launched:
        page = new_page(launched, f"{live_server}/login", signed_in=False)
        page.fill("#email", editor.email)
        page.fill("#password", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#signed-in-as:has-text('editor')")
        page.goto(f"{live_server}/documents")
        page.wait_for_selector("#collection option[value=mine]", state="attached")
        page.select_option("#collection", "default")
        page.wait_for_selector("#document-list li[data-status=ready]")
        assert not page.is_visible("#delete-collection")
        page.select_option("#collection", "mine")
        page.wait_for_selector("#delete-collection", state="visible")
        page.once("dialog", lambda dialog: dialog.accept())  # empty: one plain question
        page.click("#delete-collection")
        page.wait_for_selector("#collection option[value=mine]", state="detached")
        assert page.js_errors == []


def test_the_admin_page_reports_a_refused_change(live_server):
    with browser() as launched:
        page = new_page(launched, f"{live_server}/admin")
        page.wait_for_selector("#collection-list tr[data-name=default]")
        page.fill("#collection-list tr[data-name=default] input", "nobody@example.org")
        page.press("#collection-list tr[data-name=default] input", "Enter")
        # Adding someone who has no account fails: the page says so, it does not pretend.
        page.wait_for_selector("#toast.show.error:has-text('no user')")
        assert "nobody@example.org" in page.inner_text("#toast")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#collection-list tr[data-name=default] button.danger-link")
        page.wait_for_selector("#toast.show.error:has-text('default collection')")
        assert page.locator("#collection-list tr[data-name=default]").count() == 1
        assert page.js_errors == []


def test_the_admin_disables_and_enables_a_user_from_the_admin_page(live_server, settings):
    bob = make_person(settings.database_url, "bob@example.org", "reader")
    with browser() as launched:
        page = new_page(launched, f"{live_server}/admin")
        page.click("#user-list button[aria-label='Disable bob@example.org']")
        page.wait_for_selector("#user-list button[aria-label='Enable bob@example.org']")
        with httpx.Client(base_url=live_server, timeout=60, headers=bob.headers) as http:
            assert http.get("/api/auth/me").status_code == 401  # his key stopped working
            page.click("#user-list button[aria-label='Enable bob@example.org']")
            page.wait_for_selector("#user-list button[aria-label='Disable bob@example.org']")
            assert http.get("/api/auth/me").status_code == 200
        assert page.js_errors == []
