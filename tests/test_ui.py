"""The web UI in a real browser: upload a file, ask, watch the cited answer stream in."""

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, AUTH, SOLAR_GUIDE

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def sign_in(page, url: str) -> None:
    """Sign in through the login form as the tests' admin."""
    page.goto(url + "/login")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#signed-in-as")


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("CI needs Chromium for the UI test: apt-get install chromium")
    pytest.skip("no Chromium here (apt-get install chromium to run the UI test)")


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        sign_in(page, live_server)
        yield page
        browser.close()


def test_upload_ask_and_see_a_cited_streamed_answer(page, tmp_path: Path):
    document = tmp_path / "solar.md"
    document.write_text(SOLAR_GUIDE)
    page.set_input_files("#file-input", str(document))
    page.click("#upload-form button")
    page.wait_for_selector("#document-list li[data-status=ready]")
    assert "Solar Panels Guide" in page.inner_text("#document-list")

    page.fill("#question", "How efficient are monocrystalline solar panels?")
    page.click("#ask-button")
    page.wait_for_selector(".turn[data-done=true]")
    answer = page.inner_text(".answer")
    assert "22 percent" in answer and "[1]" in answer
    assert page.locator(".answer .cite").count() >= 1
    assert "Solar Panels Guide" in page.inner_text(".sources li:first-child")
    assert "extractive" in page.inner_text(".label").lower()
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)


def test_upload_error_is_shown_to_the_person(page, tmp_path: Path):
    bad = tmp_path / "slides.pptx"
    bad.write_bytes(b"PK\x03\x04")
    page.set_input_files("#file-input", str(bad))
    page.click("#upload-form button")
    page.wait_for_selector("#upload-status.error")
    assert "not a supported file type" in page.inner_text("#upload-status")


def test_unsupported_citations_are_marked(settings, fake_llm, tmp_path: Path):
    import httpx
    from playwright.sync_api import sync_playwright

    from tests.conftest import run_server, settings_with
    from tests.helpers import ingest

    fake_llm.answer = [
        "Panels convert about 22 percent of sunlight [1].",
        " The football world cup of 1998 was won by France [1].",
    ]
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    executable = chromium_path()
    with run_server(configured) as url, sync_playwright() as playwright:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "solar.md", SOLAR_GUIDE)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        sign_in(page, url)
        page.fill("#question", "How efficient are monocrystalline solar panels?")
        page.click("#ask-button")
        page.wait_for_selector(".turn[data-done=true]")
        assert page.locator(".answer .cite").count() == 2
        flagged = page.locator(".answer .cite.unsupported")
        assert flagged.count() == 1
        assert "does not seem" in flagged.get_attribute("title")
        assert "citations checked" in page.inner_text(".label").lower()
        browser.close()
