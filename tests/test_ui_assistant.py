"""The assistant settings panel of a collection, in a real browser: offered to its owner and
admins only, filled from the server (the model server's models), saved, refused in words."""

from __future__ import annotations

import httpx

from tests.auth.people import PASSWORD, make_person
from tests.conftest import run_server, settings_with
from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.ui_browser import PHONE, browser, new_page, screenshot


def test_the_owner_sets_the_assistant_from_the_documents_page(settings, fake_llm):
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with run_server(configured) as url:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "solar.md", SOLAR_GUIDE, "manuals")
        with browser() as launched:
            page = new_page(launched, f"{url}/documents")
            page.wait_for_selector("#collection option[value=manuals]", state="attached")
            page.select_option("#collection", "manuals")
            page.click("#assistant-settings")
            page.wait_for_selector("#assistant-panel:not([hidden])")
            assert page.get_attribute("#assistant-settings", "aria-expanded") == "true"
            options = page.eval_on_selector_all(
                "#assistant-model option", "o => o.map(x => x.value)"
            )
            assert options == ["", "paced", "slow"]  # the site's default (ok), then the rest
            assert "Site default (ok)" in page.inner_text("#assistant-model")
            page.fill("#assistant-instructions", "Answer for new employees, in plain words.")
            assert page.inner_text("#assistant-count").startswith("41 / 4000")
            page.select_option("#assistant-length", "short")
            page.fill("#assistant-passages", "25")
            page.select_option("#assistant-rerank", "off")
            page.select_option("#assistant-model", "paced")
            page.click("#assistant-form button[type=submit]")
            # Out of range: the server's words, beside the form; nothing is saved.
            page.wait_for_selector("#assistant-error:has-text('from 1 to 20')")
            page.fill("#assistant-passages", "2")
            page.click("#assistant-form button[type=submit]")
            page.wait_for_selector("#toast.show:has-text('Saved the assistant of manuals')")
            assert page.inner_text("#assistant-error") == ""
            screenshot(page, "assistant-settings-desktop", full_page=True)
            phone = new_page(launched, f"{url}/documents", viewport=PHONE)
            phone.wait_for_selector("#collection option[value=manuals]", state="attached")
            phone.select_option("#collection", "manuals")
            phone.click("#assistant-settings")
            phone.wait_for_selector("#assistant-panel:not([hidden])")
            assert phone.input_value("#assistant-passages") == "2"
            assert phone.input_value("#assistant-model") == "paced"
            # Nothing wider than the phone: the choices fold into one column.
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], width
            screenshot(phone, "assistant-settings-phone", full_page=True)
            assert page.js_errors == [] and phone.js_errors == []
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            stored = http.get("/api/collections/manuals/assistant").json()["assistant"]
    assert stored == {
        "instructions": "Answer for new employees, in plain words.",
        "length": "short",
        "passages": 2,
        "rerank": False,
        "model": "paced",
    }


def test_only_the_owner_sees_the_panel_and_without_a_model_it_says_what_applies(
    settings, live_server
):
    editor = make_person(settings.database_url, "owner@example.org", "editor")
    with httpx.Client(base_url=live_server, timeout=60, headers=editor.headers) as http:
        assert http.post("/api/collections", json={"name": "mine"}).status_code == 201
    with browser() as launched:
        page = new_page(launched, f"{live_server}/login", signed_in=False)
        page.fill("#email", editor.email)
        page.fill("#password", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#signed-in-as:has-text('owner')")
        page.goto(f"{live_server}/documents")
        page.wait_for_selector("#collection option[value=mine]", state="attached")
        page.select_option("#collection", "default")  # shared, not theirs
        page.wait_for_selector("#document-list li")
        assert not page.is_visible("#assistant-settings")
        page.select_option("#collection", "mine")
        page.click("#assistant-settings")
        page.wait_for_selector("#assistant-note:has-text('No language model is configured')")
        assert page.is_disabled("#assistant-instructions") and page.is_disabled("#assistant-model")
        page.select_option("#assistant-length", "long")
        page.click("#assistant-form button[type=submit]")
        page.wait_for_selector("#toast.show:has-text('Saved the assistant of mine')")
        page.select_option("#collection", "default")  # the panel does not follow
        page.wait_for_selector("#assistant-panel", state="hidden")
        assert page.js_errors == []
