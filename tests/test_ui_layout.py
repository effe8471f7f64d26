"""What the pages show, in a real browser: each test guards a defect people saw."""

from __future__ import annotations

import httpx

from tests.auth.people import run_sql
from tests.conftest import run_server, settings_with
from tests.helpers import AUTH, ingest
from tests.ui_browser import DESKTOP, PHONE, browser, new_page, screenshot

HEAT_PUMPS = (
    "Heat pumps move heat from outside air into a house. "
    "A heat pump delivers about three units of heat for each unit of electricity it uses. "
    "They work well down to minus fifteen degrees Celsius."
)

# A passage as long as a chunk gets (about 250 tokens), taller than a phone, whose last sentence
# is the one cited; more sections after it, so the sources list makes the drawer scroll.
FILLER = " ".join(
    f"Week {i}: check the pump, the filter and the plants around the water, then note what changed."
    for i in range(1, 12)
)
POND = (
    f"# Garden pond\n\n## Feeding\n\n{FILLER} "
    "The koi carp in the pond are fed twice a day with floating pellets.\n\n"
    "## Water\n\nThe water is tested for nitrate every month and changed in spring.\n\n"
    "## Plants\n\nWater lilies shade the pond and keep algae down in summer.\n\n"
    "## Winter\n\nA small heater keeps a hole in the ice so gases can escape.\n"
)


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(".turn[data-done=true]")


def test_a_passage_titled_with_its_file_name_shows_no_null(live_server):
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        document = ingest(http, "heat-pumps.txt", HEAT_PUMPS)
    with browser() as launched:
        page = new_page(launched, live_server)
        ask(page, "How much heat does a heat pump deliver?")
        page.click(".answer button.cite")
        page.wait_for_selector("#passage .passage-text")
        shown = page.inner_text("#passage")
        assert "three units of heat" in shown
        # The title says the document's name once; nothing under it says "null".
        assert "null" not in shown.lower(), (document["title"], shown)
        assert page.locator("#passage .file").count() == 0
        assert page.js_errors == []


def test_on_a_phone_the_sources_drawer_opens_with_its_header_in_sight(settings, fake_llm):
    fake_llm.answer = ["The koi carp in the pond are fed twice a day with floating pellets [1]."]
    configured = settings_with(settings, LLM_BASE_URL=fake_llm.url, LLM_MODEL="ok")
    with run_server(configured) as url, browser() as launched:
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as http:
            ingest(http, "pond.md", POND)
        page = new_page(launched, url, viewport=PHONE)
        ask(page, "How often are the koi carp fed?")
        page.click(".answer button.cite")
        page.wait_for_selector("#passage mark")
        page.wait_for_function(  # slid in completely
            "document.getElementById('sources-panel').getBoundingClientRect().left <= 1"
        )
        close = page.locator("#close-sources").bounding_box()
        heading = page.locator("#sources-panel h2").bounding_box()
        assert close["y"] >= 0 and close["y"] + close["height"] <= PHONE["height"]
        assert heading["y"] >= 0
        assert page.is_visible("#close-sources")
        # ...and the highlighted sentence is in sight too, inside the passage's own box.
        mark = page.locator("#passage mark").bounding_box()
        box = page.locator("#passage .passage-text").bounding_box()
        assert box["y"] <= mark["y"] and mark["y"] + mark["height"] <= box["y"] + box["height"]
        assert mark["y"] + mark["height"] <= PHONE["height"]
        assert "koi carp" in page.inner_text("#passage mark")
        screenshot(page, "drawer-phone-long-passage")
        page.click("#close-sources")
        page.wait_for_selector("#sources-panel", state="hidden")
        assert page.js_errors == []


# Whether the textarea's placeholder fits its box: the text set as its value must not
# overflow it (the placeholder wraps and is cut exactly as a value would be).
PLACEHOLDER_FITS = """() => {
  const box = document.getElementById('question');
  const saved = box.value;
  box.value = box.placeholder;
  const fits = box.scrollHeight <= box.clientHeight + 1 && box.scrollWidth <= box.clientWidth + 1;
  box.value = saved;
  return fits;
}"""


def test_the_composer_placeholder_is_not_clipped(live_server):
    with browser() as launched:
        for viewport, name in (
            (PHONE, "phone"),
            (DESKTOP, "desktop"),
            ({"width": 320, "height": 640}, "small"),
        ):
            page = new_page(launched, live_server, viewport=viewport)
            page.wait_for_selector("#question")
            assert page.get_attribute("#question", "placeholder"), name
            assert page.evaluate(PLACEHOLDER_FITS), f"the placeholder is cut on a {name}"
            if name == "phone":
                screenshot(page, "composer-phone")
            # The keyboard hint is not lost: it describes the box for screen readers.
            hint = page.get_attribute("#question", "aria-describedby")
            assert "Shift+Enter" in page.text_content(f"#{hint}")
            assert page.js_errors == []


def test_the_setup_page_offers_no_sign_in_when_no_user_exists(settings):
    run_sql(settings.database_url, "DELETE FROM users")  # an empty site: no one to sign in
    with run_server(settings) as url, browser() as launched:
        page = new_page(launched, url, signed_in=False)
        page.wait_for_url(f"{url}/setup")
        topbar = page.inner_text("header.topbar")
        assert "Sign in" not in topbar
        assert page.locator("a[href='/login']").count() == 0
        assert page.is_visible("#setup-form")
        screenshot(page, "setup-desktop")
        assert page.js_errors == []
